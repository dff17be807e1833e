// A malloc interposer with a per-thread counter, preloaded into the test process by tools/test.sh
// so DNSBLTests.AllocationTests can prove the answer path allocates nothing (issue 3, point 5).
// Build: cc -O2 -shared -fPIC -o libcount.so tools/malloc-count.c
#include <stddef.h>
#include <errno.h>
extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void *__libc_memalign(size_t, size_t);
static __thread size_t count;
size_t prefixbl_thread_malloc_count(void) { return count; }
void *malloc(size_t n) { count++; return __libc_malloc(n); }
void *calloc(size_t a, size_t b) { count++; return __libc_calloc(a, b); }
void *realloc(void *p, size_t n) { count++; return __libc_realloc(p, n); }
void *memalign(size_t a, size_t n) { count++; return __libc_memalign(a, n); }
void *aligned_alloc(size_t a, size_t n) { count++; return __libc_memalign(a, n); }
int posix_memalign(void **o, size_t a, size_t n) {
    count++; void *p = __libc_memalign(a, n); if (!p) return ENOMEM; *o = p; return 0; }
