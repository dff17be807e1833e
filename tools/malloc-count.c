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

// Only the test process itself is counted: children it starts (dig, unbound, the prefixbl binary)
// must not inherit the interposer (dig crashes under it). `swift test` itself passes it on to the
// test bundle (…PackageTests.xctest), which then removes it from its environment.
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
__attribute__((constructor)) static void forget_preload(void) {
    char exe[4096];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0) return;
    exe[n] = 0;
    if (strstr(exe, "PackageTests") != NULL) unsetenv("LD_PRELOAD");
}
