@testable import DNSBLDaemon
import Synchronization
import Testing

// The straggler check after setuid (Privileges.drop): glibc leaves an exiting thread with its old
// credentials until it is gone, so a thread is only reported if it stays.

@Test("setuid straggler check: a thread that goes away (an exiting thread glibc skipped) is not reported")
func stragglerThatExitsIsIgnored() {
    let looks = Mutex(0)
    // Seen with the old user on the first three looks, then gone.
    let found = Privileges.lastingStraggler(timeout: 2) {
        looks.withLock { n in n += 1; return n <= 3 ? "4242" : nil }
    }
    #expect(found == nil)
    #expect(looks.withLock { $0 } == 4)
}

@Test("setuid straggler check: a thread still on the old user after the timeout is reported")
func stragglerThatStaysIsReported() {
    let started = ContinuousClock.now
    let found = Privileges.lastingStraggler(timeout: 0.1) { "4242" }
    #expect(found == "4242")
    #expect(ContinuousClock.now - started >= .milliseconds(100))
}
