using System.ComponentModel;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text;
using MailKit;
using MailKit.Net.Imap;
using MailKit.Security;

namespace MailSync.Tests.Infrastructure;

/// <summary>
/// A private Courier-IMAP 5.0 (Debian 12's courier-imap, plain IMAP on 127.0.0.1 only) run as a
/// child process with all of its state in one temp folder.
/// <para>
/// Courier is not installed (it conflicts with dovecot-imapd): scripts/install-test-servers.sh
/// unpacks its packages into <see cref="InstallRoot"/>. Its binaries have compiled-in paths
/// (/usr/lib/courier, /usr/lib/courier-authlib, /etc/courier, /run/courier), so the server runs
/// as PID 1 of a private mount + PID namespace (unshare) in which the unpacked /usr is overlaid
/// on /usr and this server's own folders are bound on /etc/courier and /run/courier. Nothing on
/// the host changes, and when the namespace's PID 1 ends the kernel ends everything in it.
/// </para>
/// <para>
/// Inside: authdaemond with authuserdb (users in etc/courier/userdb/NAME, compiled by
/// makeuserdb) and couriertcpd → imaplogin → imapd, configured with Debian's stock
/// /etc/courier/imapd and imapd-ssl except: STARTTLS off (no certificate), only 127.0.0.1, and
/// 40 connections per IP (all tests share one IP). Mail processes run as nobody; every user has
/// a Maildir under mail/NAME/Maildir. Personal namespace "INBOX." with separator '.'; CREATE
/// outside INBOX is refused and does not subscribe.
/// </para>
/// <para>
/// A failed LOGIN is answered after about 5 s (imaplogin's fixed delay), so a wrong-password
/// test costs that much per attempt. Start takes ~0.1 s; stop well under a second.
/// </para>
/// </summary>
public sealed class CourierServer : IAsyncDisposable, IImapTestServer
{
    /// <summary>What to run when Courier is missing; also in every start failure message.</summary>
    public const string InstallHint =
        "Unpack it with: sudo scripts/install-test-servers.sh courier (Debian's courier-imap, fetched with apt-get download "
        + "into /opt/mailsync-test-servers/courier or $MAILSYNC_TEST_SERVERS/courier; nothing is installed system-wide but "
        + "a few shared libraries).";

    private const int MaxConnections = 40;
    private const int PortAttempts = 3;
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(20);
    private static readonly TimeSpan StopTimeout = TimeSpan.FromSeconds(10);
    private static int s_userCounter;

    // PID 1 of the namespace. Parameters come in the environment so nothing is spliced into
    // shell text. Written to ROOT/launch.sh at start; see the class comment for the layout.
    private const string LaunchScript = """
        #!/bin/sh
        # Written by MailSync's CourierServer (tests/MailSync.Tests/Infrastructure/CourierServer.cs).
        # Runs as PID 1 of a private mount + PID namespace. Env: MS_COURIER (unpacked packages),
        # MS_STATE (this server's temp folder), MS_PORT (IMAP port on 127.0.0.1).
        set -e
        exec >>"$MS_STATE/courier.log" 2>&1
        # Keep the test process's stdin pipe on fd 3 for the watcher: asynchronous commands of a
        # non-interactive shell get /dev/null as stdin.
        exec 3<&0 </dev/null
        echo "launcher: starting ($(date -u +%H:%M:%S.%N))"

        # Courier's compiled-in paths, in this namespace only. overlay with lower layers only is
        # read-only; the stub layers just supply the mount points the host lacks.
        mount -t overlay mailsync-courier-usr -o "lowerdir=$MS_COURIER/usr:/usr" /usr
        mount -t overlay mailsync-courier-etc -o "lowerdir=$MS_STATE/stub/etc:/etc" /etc
        mount --bind "$MS_STATE/etc/courier" /etc/courier
        mount -t overlay mailsync-courier-run -o "lowerdir=$MS_STATE/stub/run:/run" /run
        mount --bind "$MS_STATE/run/courier" /run/courier

        /usr/sbin/makeuserdb

        authd=
        tcpd=
        watcher=
        stop() {
          trap '' TERM INT
          for p in $tcpd $authd $watcher; do kill -TERM "$p" 2>/dev/null || true; done
          for p in $tcpd $authd; do wait "$p" 2>/dev/null || true; done
          echo "launcher: stopped"
          # Whatever is left in the namespace (imapd sessions, the watcher's cat) is killed by
          # the kernel when PID 1 exits.
          exit "${1:-0}"
        }
        trap stop TERM INT

        # EOF on the pipe means the test process closed it (StopAsync) or died: stop either way.
        ( cat <&3 >/dev/null; kill -TERM 1 ) &
        watcher=$!
        exec 3<&-

        /usr/lib/courier/courier-authlib/authdaemond &
        authd=$!
        # Open the IMAP port only when logins can be checked, so "port answers" means "ready".
        i=0
        while [ ! -S /run/courier/authdaemon/socket ]; do
          i=$((i + 1))
          if [ $i -gt 400 ] || ! kill -0 "$authd" 2>/dev/null; then
            echo "launcher: authdaemond did not create its socket"
            stop 1
          fi
          sleep 0.025
        done

        # As Debian's /usr/lib/courier/imapd start does: a clean environment with the stock
        # settings, umask and address-space limit, minus TLS and courierlogger.
        env -i MS_COURIER="$MS_COURIER" MS_PORT="$MS_PORT" MS_MAXCONN="$MS_MAXCONN" /bin/sh -c '
          set -a
          prefix=/usr
          exec_prefix=/usr
          sbindir=/usr/sbin
          bindir=/usr/bin
          . "$MS_COURIER/etc/courier/imapd"
          . "$MS_COURIER/etc/courier/imapd-ssl"
          IMAPDSTARTTLS=NO
          IMAP_STARTTLS=NO
          IMAP_TLS_REQUIRED=0
          set +a
          umask "$IMAP_UMASK"
          ulimit -v "$IMAP_ULIMITD"
          exec /usr/sbin/couriertcpd -address=127.0.0.1 -maxprocs="$MS_MAXCONN" -maxperip="$MS_MAXCONN" $TCPDOPTS \
            "$MS_PORT" /usr/lib/courier/courier/imaplogin /usr/bin/imapd "$MAILDIRPATH"
        ' &
        tcpd=$!
        echo "launcher: authdaemond pid $authd, couriertcpd pid $tcpd (namespace pids) on 127.0.0.1:$MS_PORT"

        rc=0
        wait "$tcpd" || rc=$?
        tcpd=
        echo "launcher: couriertcpd exited with $rc"
        stop "$rc"

        """;

    // authuserdb only: no PAM, so host accounts can never log in.
    private const string AuthDaemonRc = """
        authmodulelist="authuserdb"
        daemons=3
        authdaemonvar=/run/courier/authdaemon
        DEBUG_LOGIN=0
        DEFAULTOPTIONS=""
        LOGGEROPTS=""

        """;

    private readonly SemaphoreSlim _userDbLock = new(1, 1);
    private readonly StringBuilder _consoleOutput = new();
    private readonly UnixAccount _mailUser;
    private Process? _process;
    private DateTime _lastUserDbStamp = DateTime.MinValue;
    private bool _disposed;

    private CourierServer(string installRoot, string rootDirectory, UnixAccount mailUser)
    {
        InstallRoot = installRoot;
        RootDirectory = rootDirectory;
        _mailUser = mailUser;
    }

    /// <inheritdoc/>
    public string Name => "Courier";

    /// <inheritdoc/>
    Task<TestUser> IImapTestServer.CreateTestUserAsync(string prefix) => CreateUserAsync(prefix);

    public string Host => "127.0.0.1";

    public int ImapPort { get; private set; }

    /// <summary>The unpacked packages (…/courier/root) this server runs from.</summary>
    public string InstallRoot { get; }

    /// <summary>This server's temp folder: config, authdaemon socket, mail and log; removed on dispose.</summary>
    public string RootDirectory { get; }

    /// <summary>stdout/stderr of the launcher, authdaemond, couriertcpd, imaplogin and imapd (LOGIN/DISCONNECTED lines).</summary>
    public string LogPath => Path.Combine(RootDirectory, "courier.log");

    /// <summary>Hierarchy separator of the personal namespace (Maildir++).</summary>
    public char DirectorySeparator => '.';

    /// <summary>Personal namespace prefix: every folder but INBOX lives under "INBOX.".</summary>
    public string NamespacePrefix => "INBOX.";

    /// <summary>Host PID of the unshare process we started (its child is the namespace's PID 1), or null while stopped.</summary>
    public int? ProcessId => _process is { HasExited: false } p ? p.Id : null;

    /// <summary>How long the last start took, from spawning unshare to the first "* OK" greeting.</summary>
    public TimeSpan StartDuration { get; private set; }

    private string UserDbDirectory => Path.Combine(RootDirectory, "etc", "courier", "userdb");

    /// <summary>
    /// The cache folder scripts/install-test-servers.sh fills: $MAILSYNC_TEST_SERVERS/courier/root,
    /// default /opt/mailsync-test-servers/courier/root.
    /// </summary>
    public static string DefaultInstallRoot =>
        Path.Combine(
            Environment.GetEnvironmentVariable("MAILSYNC_TEST_SERVERS") is { Length: > 0 } cache ? cache : "/opt/mailsync-test-servers",
            "courier",
            "root");

    /// <summary>
    /// Starts a fresh server in a new temp folder on a free 127.0.0.1 port and returns once it
    /// greets. Throws (never skips) when Courier is not unpacked, the process is not root, or the
    /// server does not come up; the message says why and how to install.
    /// </summary>
    public static async Task<CourierServer> StartAsync(string? installRoot = null, CancellationToken ct = default)
    {
        if (!OperatingSystem.IsLinux())
        {
            throw new PlatformNotSupportedException("The Courier test server runs on Linux only.");
        }

        installRoot ??= DefaultInstallRoot;
        foreach (var part in new[]
                 {
                     "usr/bin/imapd", "usr/lib/courier/courier/imaplogin", "usr/lib/courier/courier-authlib/authdaemond",
                     "usr/sbin/couriertcpd", "usr/sbin/makeuserdb", "etc/courier/imapd", "etc/courier/imapd-ssl",
                 })
        {
            if (!File.Exists(Path.Combine(installRoot, part)))
            {
                throw new InvalidOperationException($"Courier IMAP is not unpacked: {Path.Combine(installRoot, part)} is missing. {InstallHint}");
            }
        }

        foreach (var tool in new[] { "/usr/bin/unshare", "/usr/bin/nsenter", "/usr/bin/perl" })
        {
            if (!File.Exists(tool))
            {
                throw new InvalidOperationException($"{tool} is missing (packages util-linux, perl). {InstallHint}");
            }
        }

        if (!Environment.IsPrivilegedProcess)
        {
            // unshare --mount needs CAP_SYS_ADMIN, and imaplogin switches to the mail uid.
            throw new InvalidOperationException(
                $"The Courier test server must be started by root (the test process runs as {Environment.UserName}).");
        }

        var mailUser = UnixAccount.Require("nobody");
        var root = Directory.CreateTempSubdirectory("mailsync-courier-").FullName;
        try
        {
            // imapd runs as nobody and must traverse into its Maildir.
            File.SetUnixFileMode(root, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute
                | UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute);
            Directory.CreateDirectory(Path.Combine(root, "stub", "etc", "courier"));
            Directory.CreateDirectory(Path.Combine(root, "stub", "run", "courier"));
            Directory.CreateDirectory(Path.Combine(root, "run", "courier", "authdaemon"));
            Directory.CreateDirectory(Path.Combine(root, "mail"));
            var etc = Directory.CreateDirectory(Path.Combine(root, "etc", "courier")).FullName;
            await File.WriteAllTextAsync(Path.Combine(etc, "authdaemonrc"), AuthDaemonRc, ct);
            // makeuserdb refuses a userdb that group or others can read (it holds password hashes).
            Directory.CreateDirectory(Path.Combine(etc, "userdb"), UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
            await File.WriteAllTextAsync(Path.Combine(root, "launch.sh"), LaunchScript, ct);

            var server = new CourierServer(installRoot, root, mailUser);
            try
            {
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
    /// Adds a fresh user with a random password and an empty Maildir (owned by nobody), then
    /// recompiles the userdb inside the server's namespace. The user can log in when this returns.
    /// </summary>
    public async Task<TestUser> CreateUserAsync(string? namePrefix = null, CancellationToken ct = default)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (!OperatingSystem.IsLinux())
        {
            // Only reachable through a started server; the guard is for the platform analyzer.
            throw new PlatformNotSupportedException("The Courier test server runs on Linux only.");
        }

        var prefix = string.IsNullOrEmpty(namePrefix) ? "user" : namePrefix.ToLowerInvariant();
        if (!prefix.All(c => char.IsAsciiLetterOrDigit(c) || c == '-' || c == '_'))
        {
            throw new ArgumentException("A user name prefix may use only ASCII letters, digits, '-' and '_'.", nameof(namePrefix));
        }

        var name = $"{prefix}-{Interlocked.Increment(ref s_userCounter)}-{RandomNumberGenerator.GetHexString(6, lowercase: true)}";
        var user = new TestUser(name, RandomNumberGenerator.GetHexString(16, lowercase: true));

        var home = Path.Combine(RootDirectory, "mail", name);
        var maildir = MaildirPath(user);
        Directory.CreateDirectory(home);
        Directory.CreateDirectory(maildir, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        foreach (var sub in new[] { "cur", "new", "tmp" })
        {
            Directory.CreateDirectory(Path.Combine(maildir, sub));
        }

        // imapd checks (IMAP_MAILBOX_SANITY_CHECK=1) that the Maildir belongs to the uid it runs as.
        foreach (var path in new[] { home, maildir, Path.Combine(maildir, "cur"), Path.Combine(maildir, "new"), Path.Combine(maildir, "tmp") })
        {
            Chown(path, _mailUser);
        }

        // authlib's {SHA256} is base64(SHA-256(password)); systempw goes to userdbshadow.dat.
        var hash = Convert.ToBase64String(SHA256.HashData(Encoding.UTF8.GetBytes(user.Password)));
        var entry = $"{name}\tuid={_mailUser.Uid}|gid={_mailUser.Gid}|home={home}|mail={maildir}|systempw={{SHA256}}{hash}\n";

        await _userDbLock.WaitAsync(ct);
        try
        {
            // makeuserdb skips dot files, so a half-written entry is never compiled.
            var path = Path.Combine(UserDbDirectory, name);
            var temp = Path.Combine(UserDbDirectory, "." + name + ".tmp");
            await File.WriteAllTextAsync(temp, entry, ct);
            File.SetUnixFileMode(temp, UnixFileMode.UserRead | UnixFileMode.UserWrite);
            File.Move(temp, path, overwrite: true);
            await RebuildUserDbAsync(ct);
        }
        finally
        {
            _userDbLock.Release();
        }

        return user;
    }

    /// <summary>The user's Maildir on disk (INBOX; other folders are ".Name" subfolders of it), for inspecting stored files.</summary>
    public string MaildirPath(TestUser user) => Path.Combine(RootDirectory, "mail", user.Name, "Maildir");

    /// <summary>Logs in on the IMAP port (LOGIN command: Courier offers no SASL without TLS); the caller owns the client.</summary>
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
    /// Puts one message into FOLDER ("INBOX" or a full name such as "INBOX.Archive.2020",
    /// created and subscribed if missing) with a raw IMAP APPEND of exactly
    /// <paramref name="rawMessage"/>, independent of MailSync and MailKit (see
    /// <see cref="RawImapSession"/>). Returns the UID from APPENDUID.
    /// Courier stores LF line ends and serves CRLF, so a message with CRLF line ends, no bare CR
    /// and a final CRLF comes back byte for byte; others do not (see CourierServerTests).
    /// INTERNALDATE is the file's mtime: kept to the second, answered in +0000, and a date
    /// before 1970 is refused (NO). Keywords are case-insensitive: the first spelling a folder
    /// saw wins.
    /// </summary>
    public async Task<UniqueId> SeedRawAsync(
        TestUser user, string folder, byte[] rawMessage, MessageFlags flags, IReadOnlyList<string> keywords, DateTimeOffset internalDate,
        CancellationToken ct = default)
    {
        var uids = await SeedAsync(user, folder, [new SeedMessage(rawMessage, internalDate, flags, keywords)], ct);
        return uids[0];
    }

    /// <summary>As <see cref="SeedRawAsync"/>, for several messages over one connection; UIDs in input order.</summary>
    public async Task<IReadOnlyList<UniqueId>> SeedAsync(TestUser user, string folder, IEnumerable<SeedMessage> messages, CancellationToken ct = default)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        await using var seeder = await RawImapSession.LoginAsync(Host, ImapPort, user.Name, user.Password, ct);
        await seeder.EnsureFolderAsync(folder, ct);
        var uids = new List<UniqueId>();
        foreach (var message in messages)
        {
            var uid = await seeder.AppendAsync(folder, message.Raw, message.Flags, message.Keywords, message.InternalDate, ct: ct);
            uids.Add(uid ?? throw new InvalidOperationException("Courier sent no APPENDUID, though it advertises UIDPLUS."));
        }

        return uids;
    }

    /// <summary>
    /// Stops the server: closes the launcher's stdin, on which it stops couriertcpd and authdaemond
    /// and exits (the kernel then ends everything else in its PID namespace). Only if that hangs,
    /// kills exactly the process tree we started.
    /// </summary>
    public async Task StopAsync()
    {
        var process = _process;
        if (process is null)
        {
            return;
        }

        _process = null;
        await ServerProcess.StopAsync(process, () =>
        {
            try
            {
                process.StandardInput.Close();
            }
            catch (IOException)
            {
                // Already gone; the wait returns at once.
            }
        }, StopTimeout);
    }

    public async ValueTask DisposeAsync()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        await StopAsync();
        _userDbLock.Dispose();
        ServerProcess.TryDeleteDirectory(RootDirectory);
    }

    /// <summary>Tail of <see cref="LogPath"/>, for failure messages.</summary>
    public string ReadLogTail(int maxLines = 40)
    {
        if (!File.Exists(LogPath))
        {
            return "(no log written)";
        }

        using var stream = new FileStream(LogPath, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
        using var reader = new StreamReader(stream);
        var lines = reader.ReadToEnd().Split('\n', StringSplitOptions.RemoveEmptyEntries);
        return string.Join('\n', lines.TakeLast(maxLines));
    }

    private async Task StartProcessAsync(CancellationToken ct)
    {
        for (var attempt = 1; ; attempt++)
        {
            ImapPort = PickFreePort();
            var started = Stopwatch.StartNew();
            var process = Spawn();
            try
            {
                await WaitUntilReadyAsync(process, ct);
                StartDuration = started.Elapsed;
                return;
            }
            catch (CourierStartException e) when (e.PortTaken && attempt < PortAttempts)
            {
                // Someone took the port between our probe and couriertcpd's bind: try another.
                await StopAsync();
            }
        }
    }

    private Process Spawn()
    {
        lock (_consoleOutput)
        {
            _consoleOutput.Clear();
        }

        var startInfo = new ProcessStartInfo("/usr/bin/unshare")
        {
            // --kill-child: if unshare itself is killed, PID 1 gets SIGTERM and stops the rest.
            ArgumentList =
            {
                "--mount", "--propagation", "private", "--pid", "--fork", "--kill-child=SIGTERM",
                "/bin/sh", Path.Combine(RootDirectory, "launch.sh"),
            },
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            Environment =
            {
                ["MS_COURIER"] = InstallRoot,
                ["MS_STATE"] = RootDirectory,
                ["MS_PORT"] = ImapPort.ToString(CultureInfo.InvariantCulture),
                ["MS_MAXCONN"] = MaxConnections.ToString(CultureInfo.InvariantCulture),
            },
        };
        var process = new Process { StartInfo = startInfo };
        process.OutputDataReceived += (_, e) => AppendConsole(e.Data);
        process.ErrorDataReceived += (_, e) => AppendConsole(e.Data);
        try
        {
            process.Start();
        }
        catch (Win32Exception e)
        {
            process.Dispose();
            throw new InvalidOperationException($"Could not run /usr/bin/unshare: {e.Message}", e);
        }

        _process = process;
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return process;
    }

    private async Task WaitUntilReadyAsync(Process process, CancellationToken ct)
    {
        var deadline = DateTime.UtcNow + StartTimeout;
        var lastProblem = "no attempt yet";
        while (DateTime.UtcNow < deadline)
        {
            ct.ThrowIfCancellationRequested();
            if (process.HasExited)
            {
                var log = ReadLogTail();
                throw new CourierStartException(
                    StartFailure($"the launcher exited with code {process.ExitCode} during startup."),
                    portTaken: log.Contains("Address already in use", StringComparison.OrdinalIgnoreCase));
            }

            try
            {
                using var tcp = new TcpClient();
                using var attempt = CancellationTokenSource.CreateLinkedTokenSource(ct);
                attempt.CancelAfter(TimeSpan.FromSeconds(5));
                await tcp.ConnectAsync(IPAddress.Loopback, ImapPort, attempt.Token);
                using var reader = new StreamReader(tcp.GetStream(), Encoding.ASCII);
                var greeting = await reader.ReadLineAsync(attempt.Token);
                if (greeting is not null && greeting.StartsWith("* OK", StringComparison.Ordinal))
                {
                    // Another server may hold the port we picked (couriertcpd then logs "bind:
                    // Address already in use" and the launcher exits within milliseconds): the
                    // greeting only counts if our launcher is still alive a moment later.
                    await Task.Delay(100, ct);
                    if (!process.HasExited)
                    {
                        return;
                    }

                    continue;
                }

                lastProblem = $"unexpected greeting '{greeting}'";
            }
            catch (Exception e) when (e is SocketException or IOException or OperationCanceledException && !ct.IsCancellationRequested)
            {
                lastProblem = e.Message;
            }

            await Task.Delay(25, ct);
        }

        throw new CourierStartException(
            StartFailure($"IMAP port {ImapPort} did not answer '* OK' within {StartTimeout.TotalSeconds:0} s ({lastProblem})."),
            portTaken: false);
    }

    /// <summary>
    /// Runs makeuserdb in the server's mount namespace (it has compiled-in paths) and gives the
    /// new .dat files a strictly later mtime than the previous ones, so authuserdb, which reopens
    /// its database when the file changes, cannot miss a rebuild made within the same second.
    /// </summary>
    private async Task RebuildUserDbAsync(CancellationToken ct)
    {
        var pid = ProcessId ?? throw new InvalidOperationException("The Courier test server is not running.");
        var startInfo = new ProcessStartInfo("/usr/bin/nsenter")
        {
            ArgumentList = { "--target", pid.ToString(CultureInfo.InvariantCulture), "--mount", "--", "/usr/sbin/makeuserdb" },
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        using var process = Process.Start(startInfo) ?? throw new InvalidOperationException("nsenter did not start.");
        var stdout = process.StandardOutput.ReadToEndAsync(ct);
        var stderr = process.StandardError.ReadToEndAsync(ct);
        await process.WaitForExitAsync(ct);
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"makeuserdb failed (exit {process.ExitCode}): {await stdout}{await stderr}");
        }

        var now = DateTime.UtcNow;
        var stamp = new DateTime(now.Ticks - now.Ticks % TimeSpan.TicksPerSecond, DateTimeKind.Utc);
        if (stamp <= _lastUserDbStamp)
        {
            stamp = _lastUserDbStamp.AddSeconds(1);
        }

        _lastUserDbStamp = stamp;
        var etc = Path.Combine(RootDirectory, "etc", "courier");
        File.SetLastWriteTimeUtc(Path.Combine(etc, "userdb.dat"), stamp);
        File.SetLastWriteTimeUtc(Path.Combine(etc, "userdbshadow.dat"), stamp);
    }

    private string StartFailure(string what)
    {
        string console;
        lock (_consoleOutput)
        {
            console = _consoleOutput.ToString();
        }

        return $"Could not start the test Courier IMAP from {InstallRoot}: {what}\n{InstallHint}\n"
            + $"--- unshare stdout/stderr ---\n{console}\n--- {LogPath} (tail) ---\n{ReadLogTail()}";
    }

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

    private static void Chown(string path, UnixAccount account)
    {
        if (NativeMethods.Chown(path, account.Uid, account.Gid) != 0)
        {
            throw new InvalidOperationException($"chown {path} to {account.Name} failed: errno {Marshal.GetLastPInvokeError()}.");
        }
    }

    private static int PickFreePort()
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        try
        {
            return ((IPEndPoint)listener.LocalEndpoint).Port;
        }
        finally
        {
            listener.Stop();
        }
    }

    private sealed class CourierStartException(string message, bool portTaken) : InvalidOperationException(message)
    {
        public bool PortTaken { get; } = portTaken;
    }

    private sealed record UnixAccount(string Name, int Uid, int Gid)
    {
        public static UnixAccount Require(string name)
        {
            // .NET has no getpwnam; these are local system accounts.
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

            throw new InvalidOperationException($"System account '{name}' is missing from /etc/passwd.");
        }
    }
}
