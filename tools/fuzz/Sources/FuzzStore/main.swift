import CFuzzDriver
#if canImport(Glibc)
import Glibc
#endif

// libFuzzer parses the command line (corpus directories, -max_total_time, …) and calls
// fuzzStore for every input.
var argc = CommandLine.argc
var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
exit(LLVMFuzzerRunDriver(&argc, &argv) { data, size in fuzzStore(data, size) })
