using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text;
using MailKit.Net.Imap;
using MailKit.Security;

namespace MailSync.Tests.Infrastructure;

/// <summary>
/// A private Cyrus IMAP 3.6 (plain IMAP on 127.0.0.1) run as a child process, with all of its state in
/// one temp folder: Debian's cyrus-imapd/cyrus-common unpacked (not installed, they conflict with
/// dovecot-imapd) by scripts/install-test-servers.sh, started as Cyrus's "master" with a generated
/// imapd.conf and cyrus.conf that point every path into the temp folder.
/// <para>
/// Logins: sasl_pwcheck_method is alwaystrue, so any password is accepted for any name (PLAIN, LOGIN
/// and the LOGIN command). Users still get random passwords so tests read like they do elsewhere, but a
/// wrong password is not rejected. A user exists for Cyrus once its INBOX mailbox ("user.NAME") does;
/// <see cref="CreateUserAsync"/> has the admin <see cref="AdminUser"/> CREATE it.
/// </para>
/// <para>
/// Cyrus runs as "nobody" when the tests run as root (its services refuse to run as root, and the temp
/// folder is chowned to nobody), else as the current user.
/// </para>
/// </summary>
public sealed class CyrusServer : IAsyncDisposable, IImapTestServer
{
    private const string InstallHint =
        "Install it with: scripts/install-test-servers.sh cyrus (as root; it unpacks Debian's cyrus-imapd into "
        + "/opt/mailsync-test-servers/cyrus without apt-get install, which would remove Dovecot).";

    private const string SetsidPath = "/usr/bin/setsid";
    private const string DefaultCacheRoot = "/opt/mailsync-test-servers";
    private const string LibraryDirectory = "usr/lib/x86_64-linux-gnu";
    private const string BinDirectory = "usr/lib/cyrus/bin";
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan StopTimeout = TimeSpan.FromSeconds(15);
    private static int s_userCounter;

    private readonly string _installDirectory;
    private readonly UnixAccount _runAs;
    private readonly StringBuilder _consoleOutput = new();
    private Process? _process;
    private bool _disposed;

    private CyrusServer(string installDirectory, string rootDirectory, CyrusOptions options, UnixAccount runAs, int port)
    {
        _installDirectory = installDirectory;
        RootDirectory = rootDirectory;
        Options = options;
        _runAs = runAs;
        ImapPort = port;
        AdminUser = new TestUser("mailsync-admin", RandomNumberGenerator.GetHexString(16, lowercase: true));
    }

    /// <inheritdoc/>
    public string Name => "Cyrus";

    /// <inheritdoc/>
    Task<TestUser> IImapTestServer.CreateTestUserAsync(string prefix) => CreateUserAsync(prefix);

    public string Host => "127.0.0.1";

    public int ImapPort { get; }

    public CyrusOptions Options { get; }

    public string RootDirectory { get; }

    /// <summary>The generated imapd.conf; Cyrus's tools take it with -C.</summary>
    public string ConfigPath => Path.Combine(RootDirectory, "imapd.conf");

    /// <summary>Listed in "admins:"; may CREATE and DELETE "user.NAME" mailboxes and set ACLs.</summary>
    public TestUser AdminUser { get; }

    /// <summary>Hierarchy separator: '.' unless <see cref="CyrusOptions.UnixHierarchySeparator"/>.</summary>
    public char DirectorySeparator => Options.UnixHierarchySeparator ? '/' : '.';

    /// <summary>Personal namespace prefix: "INBOX." (or "INBOX/"), or "" with <see cref="CyrusOptions.AltNamespace"/>.</summary>
    public string NamespacePrefix => Options.AltNamespace ? "" : "INBOX" + DirectorySeparator;

    /// <summary>PID of the running Cyrus master, or null while stopped.</summary>
    public int? ProcessId => _process is { HasExited: false } p ? p.Id : null;

    /// <summary>Version of the unpacked packages (e.g. "3.6.1-4+deb12u5"), as install-test-servers.sh recorded it.</summary>
    public string PackageVersion
    {
        get
        {
            var path = Path.Combine(_installDirectory, ".version");
            return File.Exists(path) ? File.ReadAllText(path).Trim() : "unknown";
        }
    }

    private string ConfigDirectory => Path.Combine(RootDirectory, "config");

    private string TelemetryDirectory => Path.Combine(ConfigDirectory, "log");

    /// <summary>
    /// Starts a fresh Cyrus in a new temp folder on a free 127.0.0.1 port and waits until it greets.
    /// Throws with the reason and an install hint when it cannot: the suite never skips a Cyrus test.
    /// </summary>
    public static async Task<CyrusServer> StartAsync(CyrusOptions? options = null, CancellationToken ct = default)
    {
        if (!OperatingSystem.IsLinux())
        {
            throw new PlatformNotSupportedException("The Cyrus test server runs on Linux only.");
        }

        options ??= new CyrusOptions();
        var install = FindInstallDirectory(options);
        var runAs = Environment.IsPrivilegedProcess ? RequireAccount("nobody") : CurrentAccount();

        var root = Directory.CreateTempSubdirectory("mailsync-cyrus-").FullName;
        try
        {
            // Cyrus runs unprivileged and must traverse into the folder.
            File.SetUnixFileMode(root, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute
                | UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute);
            var server = new CyrusServer(install, root, options, runAs, PickFreePort());
            try
            {
                await server.WriteConfigAsync(ct);
                await server.StartProcessAsync(ct);
                return server;
            }
            catch
            {
                await server.DisposeAsync();
                throw;
            }
        }
        catch
        {
            ServerProcess.TryDeleteDirectory(root);
            throw;
        }
    }

    /// <summary>
    /// Adds a fresh user "PREFIX-N-RANDOM" with a random password. With <paramref name="createInbox"/>
    /// (default) the admin CREATEs its INBOX ("user.NAME", or "user/NAME" with
    /// <see cref="CyrusOptions.UnixHierarchySeparator"/>), which is what makes the account exist in Cyrus.
    /// Without it the name can still log in (the password check is alwaystrue) but owns no mailbox at all:
    /// NAMESPACE answers NIL for the personal namespace, LIST shows nothing and SELECT INBOX gets "NO
    /// Mailbox does not exist". Such a user may CREATE INBOX itself (Cyrus 3.6 allows it).
    /// </summary>
    public async Task<TestUser> CreateUserAsync(string? namePrefix = null, bool createInbox = true, CancellationToken ct = default)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        var prefix = string.IsNullOrEmpty(namePrefix) ? "user" : namePrefix.ToLowerInvariant();

        // No '.' either: with unixhierarchysep off it is the separator, so it cannot be part of a user name.
        if (!prefix.All(c => char.IsAsciiLetterOrDigit(c) || c == '-' || c == '_'))
        {
            throw new ArgumentException("A user name prefix may use only ASCII letters, digits, '-' and '_'.", nameof(namePrefix));
        }

        var name = $"{prefix}-{Interlocked.Increment(ref s_userCounter)}-{RandomNumberGenerator.GetHexString(6, lowercase: true)}";
        var user = new TestUser(name, RandomNumberGenerator.GetHexString(16, lowercase: true));
        if (Options.ProtocolLog)
        {
            // Cyrus logs a user's sessions when CONFIG/log/NAME exists at login.
            var telemetry = Directory.CreateDirectory(Path.Combine(TelemetryDirectory, name)).FullName;
            Chown(telemetry);
        }

        if (createInbox)
        {
            await using var admin = await RawConnectAsync(AdminUser, ct);
            var mailbox = UserMailboxName(user);
            var response = await admin.CommandAsync($"CREATE {RawImapSession.Quote(mailbox)}", ct);
            if (!response.IsOk)
            {
                throw new InvalidOperationException($"Admin CREATE {mailbox} failed: {response.Status} {response.Text}\n{ReadLogTail()}");
            }
        }

        return user;
    }

    /// <summary>The admin's name for <paramref name="user"/>'s INBOX: "user.NAME" or "user/NAME".</summary>
    public string UserMailboxName(TestUser user) => $"user{DirectorySeparator}{user.Name}";

    /// <summary>Logs in on the plain IMAP port (MailKit picks AUTHENTICATE PLAIN); the caller owns (and disposes) the client.</summary>
    public async Task<ImapClient> ConnectAsync(TestUser user, CancellationToken ct = default)
    {
        var client = new ImapClient();
        try
        {
            await client.ConnectAsync(Host, ImapPort, SecureSocketOptions.None, ct);
            await client.AuthenticateAsync(user.Name, user.Password, ct);
            return client;
        }
        catch
        {
            client.Dispose();
            throw;
        }
    }

    /// <summary>
    /// APPENDs <paramref name="rawMessage"/> to <paramref name="folder"/> over a bare TcpClient, without
    /// MailKit or MailSync: the literal is exactly these bytes (no CRLF added or fixed), so what Cyrus stores
    /// is what Cyrus made of them (see <see cref="CyrusOptions.Munge8Bit"/>; bare LF and NUL are refused).
    /// <paramref name="folder"/> is the mailbox name as sent on the wire (ASCII, e.g. "INBOX" or
    /// "INBOX.Archive"); when the server answers [TRYCREATE] it is CREATEd (not subscribed) and the APPEND
    /// sent again. <paramref name="flags"/> is the inside of the flag list, e.g. @"\Seen $Label1" or "".
    /// Returns the UID from APPENDUID; throws with the server's answer on NO or BAD.
    /// </summary>
    public async Task<uint> SeedRawAsync(
        TestUser user, string folder, byte[] rawMessage, string flags, DateTimeOffset internalDate, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(rawMessage);
        ArgumentNullException.ThrowIfNull(flags);
        if (flags.Contains('(', StringComparison.Ordinal) || flags.Contains(')', StringComparison.Ordinal) || flags.Contains('\r', StringComparison.Ordinal) || flags.Contains('\n', StringComparison.Ordinal))
        {
            throw new ArgumentException(@"Give the flags without parentheses, space-separated, e.g. ""\Seen $Label1"".", nameof(flags));
        }

        await using var connection = await RawConnectAsync(user, ct);
        var response = await connection.AppendRawAsync(folder, flags, internalDate, rawMessage, ct: ct);
        if (response.Status == "NO" && response.Text.StartsWith("[TRYCREATE]", StringComparison.Ordinal))
        {
            var created = await connection.CommandAsync($"CREATE {RawImapSession.Quote(folder)}", ct);
            if (!created.IsOk)
            {
                throw new InvalidOperationException($"CREATE {folder} as {user.Name} failed: {created.Status} {created.Text}");
            }

            response = await connection.AppendRawAsync(folder, flags, internalDate, rawMessage, ct: ct);
        }

        if (!response.IsOk)
        {
            throw new InvalidOperationException($"APPEND to {folder} as {user.Name} failed: {response.Status} {response.Text}");
        }

        // "[APPENDUID uidvalidity uid] Completed"
        const string marker = "[APPENDUID ";
        var start = response.Text.IndexOf(marker, StringComparison.Ordinal);
        var fields = start < 0 ? [] : response.Text[(start + marker.Length)..].Split(' ', ']');
        return fields.Length >= 2 && uint.TryParse(fields[1], NumberStyles.None, CultureInfo.InvariantCulture, out var uid)
            ? uid
            : throw new InvalidOperationException($"APPEND to {folder} answered without APPENDUID: {response.Text}");
    }

    /// <summary>A raw, logged-in IMAP connection (LOGIN command) for commands MailKit would rewrite or refuse.</summary>
    internal Task<RawImapSession> RawConnectAsync(TestUser user, CancellationToken ct = default)
        => RawImapSession.LoginAsync(Host, ImapPort, user.Name, user.Password, ct);

    /// <summary>
    /// Sends SIGTERM to exactly our Cyrus master (it stops the imapd children it forked) and waits;
    /// SIGKILL of our process tree only if it hangs.
    /// </summary>
    public async Task StopAsync()
    {
        var process = _process;
        if (process is null)
        {
            return;
        }

        _process = null;
        await ServerProcess.StopAsync(process, () => NativeMethods.Kill(process.Id, NativeMethods.SIGTERM), StopTimeout);
    }

    /// <summary>Stops the master (and so its children) and deletes the temp folder.</summary>
    public async ValueTask DisposeAsync()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        await StopAsync();
        ServerProcess.TryDeleteDirectory(RootDirectory);
    }

    /// <summary>
    /// For failure messages: master's (and its children's) stdout/stderr, where Cyrus's fatal errors go,
    /// then the last lines of the most recent protocol logs (<see cref="CyrusOptions.ProtocolLog"/>).
    /// Cyrus's regular log goes to syslog only and is not here.
    /// </summary>
    public string ReadLogTail(int maxLines = 40)
    {
        var text = new StringBuilder();
        string console;
        lock (_consoleOutput)
        {
            console = _consoleOutput.ToString();
        }

        var consoleLines = console.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        text.AppendLine("--- cyrus master stdout/stderr ---");
        text.AppendLine(consoleLines.Length == 0 ? "(nothing)" : string.Join('\n', consoleLines.TakeLast(maxLines)));

        var telemetry = Directory.Exists(TelemetryDirectory)
            ? new DirectoryInfo(TelemetryDirectory).EnumerateFiles("*", SearchOption.AllDirectories)
                .OrderByDescending(f => f.LastWriteTimeUtc)
                .Take(2)
                .ToList()
            : [];
        foreach (var file in telemetry)
        {
            text.AppendLine(CultureInfo.InvariantCulture, $"--- protocol log {Path.GetRelativePath(TelemetryDirectory, file.FullName)} (tail) ---");
            try
            {
                using var stream = new FileStream(file.FullName, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
                using var reader = new StreamReader(stream, Encoding.Latin1);
                var lines = reader.ReadToEnd().Split('\n', StringSplitOptions.RemoveEmptyEntries);
                text.AppendLine(string.Join('\n', lines.TakeLast(maxLines).Select(l => l.TrimEnd('\r'))));
            }
            catch (IOException e)
            {
                text.AppendLine(CultureInfo.InvariantCulture, $"(unreadable: {e.Message})");
            }
        }

        return text.ToString();
    }

    private async Task WriteConfigAsync(CancellationToken ct)
    {
        var bin = Path.Combine(_installDirectory, BinDirectory);
        foreach (var directory in new[] { "config/socket", "config/log", "spool", "run/proc", "run/lock", "run/socket", "sieve" })
        {
            Directory.CreateDirectory(Path.Combine(RootDirectory, directory));
        }

        var imapd = new StringBuilder();
        imapd.Append(CultureInfo.InvariantCulture, $"""
            # Generated by CyrusServer (MailSync tests). Every path is inside {RootDirectory}.
            configdirectory: {ConfigDirectory}
            defaultpartition: default
            partition-default: {Path.Combine(RootDirectory, "spool")}
            proc_path: {Path.Combine(RootDirectory, "run/proc")}
            mboxname_lockpath: {Path.Combine(RootDirectory, "run/lock")}
            lmtpsocket: {Path.Combine(RootDirectory, "run/socket/lmtp")}
            idlesocket: {Path.Combine(RootDirectory, "run/socket/idle")}
            notifysocket: {Path.Combine(RootDirectory, "run/socket/notify")}
            sievedir: {Path.Combine(RootDirectory, "sieve")}
            cyrus_user: {_runAs.Name}
            admins: {AdminUser.Name}
            # Any password is accepted: no saslauthd, no sasldb to keep in step (see the class comment).
            sasl_pwcheck_method: alwaystrue
            sasl_mech_list: PLAIN LOGIN
            allowplaintext: yes
            altnamespace: {OnOff(Options.AltNamespace)}
            unixhierarchysep: {OnOff(Options.UnixHierarchySeparator)}
            munge8bit: {OnOff(Options.Munge8Bit)}
            reject8bit: {OnOff(Options.Reject8Bit)}
            hashimapspool: true
            syslog_prefix: mailsync-cyrus

            """);
        foreach (var line in Options.ExtraImapdConf)
        {
            imapd.AppendLine(line);
        }

        await File.WriteAllTextAsync(ConfigPath, imapd.ToString(), ct);

        // master passes no -C to what it starts, so every command names the config itself. Only
        // "recover" at start (cheap on an empty folder) and imap; no lmtp, pop3, sieve, http or events.
        var cyrusConf = $$"""
            # Generated by CyrusServer (MailSync tests).
            START {
              recover cmd="{{bin}}/ctl_cyrusdb -C {{ConfigPath}} -r"
            }
            SERVICES {
              imap cmd="{{bin}}/imapd -C {{ConfigPath}}" listen="{{Host}}:{{ImapPort}}" prefork=1 maxchild=200
            }
            EVENTS {
            }

            """;
        await File.WriteAllTextAsync(Path.Combine(RootDirectory, "cyrus.conf"), cyrusConf, ct);
        ChownTree(RootDirectory);
    }

    private static string OnOff(bool value) => value ? "yes" : "no";

    private async Task StartProcessAsync(CancellationToken ct)
    {
        var master = Path.Combine(_installDirectory, BinDirectory, "master");
        // On SIGTERM master signals its whole process group, not just its children: started straight
        // from the test host it would take down every other test Cyrus (and send the host a SIGTERM).
        // setsid gives it a session and group of its own; it execs master without forking (the test host
        // is no group leader), so the PID we hold is master's.
        var startInfo = new ProcessStartInfo(SetsidPath)
        {
            // -D: keep stdin/stdout/stderr open, so fatal errors of master and its children reach us.
            // Without -d master stays in the foreground: the process we start is the one to stop.
            ArgumentList = { master, "-C", ConfigPath, "-M", Path.Combine(RootDirectory, "cyrus.conf"), "-p", Path.Combine(RootDirectory, "master.pid"), "-D" },
            WorkingDirectory = RootDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };

        // The packaged binaries have no RUNPATH; libcyrus*.so sit beside them in the unpacked tree.
        var libraries = Path.Combine(_installDirectory, LibraryDirectory);
        var inherited = Environment.GetEnvironmentVariable("LD_LIBRARY_PATH");
        startInfo.Environment["LD_LIBRARY_PATH"] = string.IsNullOrEmpty(inherited) ? libraries : $"{libraries}:{inherited}";

        var process = new Process { StartInfo = startInfo };
        process.OutputDataReceived += (_, e) => AppendConsole(e.Data);
        process.ErrorDataReceived += (_, e) => AppendConsole(e.Data);
        try
        {
            if (!process.Start())
            {
                throw new InvalidOperationException($"Could not start {master}. {InstallHint}");
            }
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            process.Dispose();
            throw new InvalidOperationException($"Could not start {master}: {e.Message}. {InstallHint}", e);
        }

        _process = process;
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        await WaitUntilReadyAsync(process, ct);

        // StopAsync signals the PID we hold; it must be master's, not a setsid that forked.
        var pidFile = Path.Combine(RootDirectory, "master.pid");
        var written = File.Exists(pidFile) ? (await File.ReadAllTextAsync(pidFile, ct)).Trim() : "(no pid file)";
        if (written != process.Id.ToString(CultureInfo.InvariantCulture))
        {
            throw StartFailure($"master.pid says {written}, but the process started is {process.Id}.");
        }
    }

    private Task WaitUntilReadyAsync(Process process, CancellationToken ct)
        => ServerProcess.WaitForGreetingAsync(process, "master", ImapPort, StartTimeout, StartFailure, ct);

    private InvalidOperationException StartFailure(string what) =>
        new($"Could not start the test Cyrus ({Path.Combine(_installDirectory, BinDirectory, "master")} -C {ConfigPath}): {what}\n"
            + $"If a library or binary is missing: {InstallHint}\n{ReadLogTail()}");

    private void AppendConsole(string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (_consoleOutput)
        {
            _consoleOutput.AppendLine(line);
        }
    }

    private static string FindInstallDirectory(CyrusOptions options)
    {
        var directory = options.CyrusDirectory
            ?? NonEmpty(Environment.GetEnvironmentVariable("MAILSYNC_CYRUS_DIR"))
            ?? Path.Combine(NonEmpty(Environment.GetEnvironmentVariable("MAILSYNC_TEST_SERVERS")) ?? DefaultCacheRoot, "cyrus");
        var missing = new[] { "master", "imapd", "ctl_cyrusdb" }
            .Select(name => Path.Combine(directory, BinDirectory, name))
            .Where(path => !File.Exists(path))
            .ToList();
        return missing.Count == 0
            ? directory
            : throw new InvalidOperationException($"Cyrus IMAP is not installed: missing {string.Join(", ", missing)}. {InstallHint}");

        static string? NonEmpty(string? value) => string.IsNullOrEmpty(value) ? null : value;
    }

    private void ChownTree(string root)
    {
        if (!Environment.IsPrivilegedProcess)
        {
            return; // Cyrus runs as us and already owns everything.
        }

        Chown(root);
        foreach (var entry in Directory.EnumerateFileSystemEntries(root, "*", SearchOption.AllDirectories))
        {
            Chown(entry);
        }
    }

    private void Chown(string path)
    {
        if (Environment.IsPrivilegedProcess && NativeMethods.Chown(path, _runAs.Uid, _runAs.Gid) != 0)
        {
            throw new InvalidOperationException($"chown {path} to {_runAs.Name} failed: errno {Marshal.GetLastPInvokeError()}.");
        }
    }

    private static UnixAccount CurrentAccount() => RequireAccount(Environment.UserName);

    private static UnixAccount RequireAccount(string name)
    {
        // Read /etc/passwd directly: .NET has no getpwnam, and these are local accounts.
        foreach (var line in File.ReadLines("/etc/passwd"))
        {
            var fields = line.Split(':');
            if (fields.Length >= 4 && fields[0] == name
                && int.TryParse(fields[2], CultureInfo.InvariantCulture, out var uid)
                && int.TryParse(fields[3], CultureInfo.InvariantCulture, out var gid))
            {
                return new UnixAccount(name, uid, gid);
            }
        }

        throw new InvalidOperationException($"Account '{name}' is not in /etc/passwd; the test Cyrus runs as it.");
    }

    private static int PickFreePort()
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        try
        {
            listener.Start();
            return ((IPEndPoint)listener.LocalEndpoint).Port;
        }
        finally
        {
            listener.Stop();
        }
    }

    private sealed record UnixAccount(string Name, int Uid, int Gid);
}
