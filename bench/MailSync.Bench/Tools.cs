using System.Globalization;
using System.Text.RegularExpressions;

namespace MailSync.Bench;

/// <summary>One prepared copy job: the same command is run for the initial copy and every re-run.</summary>
internal sealed record ToolCommand(string File, IReadOnlyList<string> Args, IReadOnlyDictionary<string, string>? Env = null);

/// <summary>A migration tool under test: writes its config into the run directory.</summary>
internal interface ITool
{
    string Name { get; }

    /// <summary>The program started for a run (its --version start-up time is reported as a floor).</summary>
    string Executable { get; }

    /// <summary>How this bench configures it, for the report.</summary>
    string Setup { get; }

    Task<string> VersionAsync(CancellationToken ct);

    ToolCommand Prepare(string runDir, int port, string sourceUser, string targetUser, string passwordFile);
}

/// <param name="name">"mailsync", "mailsync-sync" (the same build, two-way sync), or "mailsync-baseline" for an earlier build measured beside it (bench/run.sh --baseline REV).</param>
/// <param name="mode">The job's mode: "migrate" (one way), or "sync" (both ways, like interimap).</param>
internal sealed class MailSyncTool(string binary, int maxConnections, string name = "mailsync", string mode = "migrate") : ITool
{
    public string Name => name;

    public string Executable => binary;

    public string Setup =>
        $"`mailsync run job.json --state … --report … --log-file …`; one {mode} job, both accounts `security: none`, `maxConnections: {maxConnections}`; " +
        (mode == "sync" ? "two-way: source = side A, target = side B, one connection per side; nothing changes on the target, so nothing should flow back; " : "") +
        "output redirected (plain progress lines).";

    public async Task<string> VersionAsync(CancellationToken ct)
    {
        var v = (await Exec.CaptureAsync(binary, ["--version"], ct, mergeStderr: true)).Trim();
        return v.Length > 0 ? "mailsync " + v.Split('\n')[0].Trim() : "mailsync (unknown version)";
    }

    public ToolCommand Prepare(string runDir, int port, string sourceUser, string targetUser, string passwordFile)
    {
        var job = Path.Combine(runDir, "job.json");
        string Account(string user) =>
            $$"""{ "protocol": "imap", "host": "127.0.0.1", "port": {{port}}, "security": "none", "user": "{{user}}", "password": "file:{{passwordFile}}", "maxConnections": {{maxConnections}} }""";
        File.WriteAllText(job, $$"""
            // Written by mailsync-bench.
            {
              "accounts": {
                "src": {{Account(sourceUser)}},
                "dst": {{Account(targetUser)}}
              },
              "jobs": [ { "name": "bench", "mode": "{{mode}}", "source": "src", "target": "dst" } ]
            }
            """);
        return new ToolCommand(binary,
        [
            "run", job,
            "--state", Path.Combine(runDir, "mailsync.state.db"),
            "--report", Path.Combine(runDir, "mailsync-report.json"),
            "--log-file", Path.Combine(runDir, "logs", "mailsync-.log"),
        ]);
    }
}

internal sealed class MbsyncTool : ITool
{
    public string Name => "mbsync";

    public string Executable => "mbsync";

    public string Setup =>
        "`mbsync -c mbsyncrc -a`; IMAPStore far = source, near = target (SSLType None, AuthMechs LOGIN), " +
        "`Patterns *`, `Create Near`, `Sync Pull` (one-way copy: new messages and flag changes source → target), " +
        "`Expunge None`, `Remove None`, `CopyArrivalDate yes` (keep INTERNALDATE), SyncState in the run dir.";

    public async Task<string> VersionAsync(CancellationToken ct) =>
        (await Exec.CaptureAsync("mbsync", ["--version"], ct, mergeStderr: true)).Trim().Split('\n')[0];

    public ToolCommand Prepare(string runDir, int port, string sourceUser, string targetUser, string passwordFile)
    {
        var conf = Path.Combine(runDir, "mbsyncrc");
        var state = Path.Combine(runDir, "mbsync-state") + "/";
        Directory.CreateDirectory(state);
        var password = File.ReadAllText(passwordFile).Trim();
        // mbsync sections end at a blank line.
        string Store(string name, string user) => string.Join('\n',
            $"IMAPAccount {name}", "Host 127.0.0.1", $"Port {port}", $"User {user}", $"Pass {password}", "SSLType None", "AuthMechs LOGIN", "",
            $"IMAPStore {name}-store", $"Account {name}", "", "");
        var channel = string.Join('\n',
            "Channel bench", "Far :src-store:", "Near :dst-store:", "Patterns *", "Create Near", "Sync Pull",
            "Expunge None", "Remove None", "CopyArrivalDate yes", $"SyncState {state}", "");
        File.WriteAllText(conf, "# Written by mailsync-bench.\n" + Store("src", sourceUser) + Store("dst", targetUser) + channel);
        return new ToolCommand("mbsync", ["-c", conf, "-a"]);
    }
}

internal sealed class InterimapTool : ITool
{
    public string Name => "interimap";

    public string Executable => "interimap";

    public string Setup =>
        "`interimap --config=…`; [remote] = source, [local] = target, both `type = imap`, `STARTTLS = NO`, " +
        "`compress = NO` (no tool compresses on loopback), `list-mailbox = *`, database in the run dir. " +
        "interimap is bidirectional: nothing changes on the target, so nothing should flow back.";

    public async Task<string> VersionAsync(CancellationToken ct)
    {
        var v = await Exec.CaptureAsync("interimap", ["--version"], ct, mergeStderr: true);
        var m = Regex.Match(v, @"version\s+(\S+)");
        return m.Success ? "interimap " + m.Groups[1].Value : v.Trim().Split('\n')[0];
    }

    public ToolCommand Prepare(string runDir, int port, string sourceUser, string targetUser, string passwordFile)
    {
        var conf = Path.Combine(runDir, "interimap.conf");
        var password = File.ReadAllText(passwordFile).Trim();
        string Section(string name, string user) => $"""
            [{name}]
            type = imap
            host = 127.0.0.1
            port = {port.ToString(CultureInfo.InvariantCulture)}
            STARTTLS = NO
            compress = NO
            username = {user}
            password = {password}

            """;
        File.WriteAllText(conf, $"""
            # Written by mailsync-bench.
            database = {Path.Combine(runDir, "interimap.db")}
            list-mailbox = *

            """ + Section("local", targetUser) + Section("remote", sourceUser));
        return new ToolCommand("interimap", [$"--config={conf}"]);
    }
}
