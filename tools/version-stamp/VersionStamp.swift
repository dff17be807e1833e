import Foundation
import PackagePlugin

/// Writes `Version.swift` (`let prefixblVersion = "…"`) for the `prefixbl` target before every
/// build, from `git describe` through `tools/version.sh`. The file is rewritten only when the
/// version changes, so an unchanged checkout recompiles nothing; a checkout without git gets
/// "0.0.0+unknown" and still builds.
@main
struct VersionStamp: BuildToolPlugin {
    func createBuildCommands(context: PluginContext, target: Target) throws -> [Command] {
        let output = context.pluginWorkDirectoryURL.appending(path: "generated")
        let script = context.package.directoryURL.appending(path: "tools/version.sh")
        return [
            .prebuildCommand(
                displayName: "prefixbl version from git describe",
                executable: URL(filePath: "/bin/sh"),
                arguments: [script.path(percentEncoded: false), "--swift", output.appending(path: "Version.swift").path(percentEncoded: false)],
                environment: [:],
                outputFilesDirectory: output)
        ]
    }
}
