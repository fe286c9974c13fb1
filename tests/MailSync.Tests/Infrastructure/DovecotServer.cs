using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using MailKit;
using MailKit.Net.Imap;
using MailKit.Net.Pop3;
using MailKit.Security;
using MailSync.Core.Stores;
using MimeKit;

namespace MailSync.Tests.Infrastructure;

/// <summary>
/// A private Dovecot (IMAP, IMAPS, POP3, POP3S on 127.0.0.1) run as a child process, with all
/// of its state in one temp folder. The config comes from tests/dovecot/dovecot.conf.template,
/// the same file scripts/demo-dovecot.sh renders, so tests and the demo see the same server.
/// </summary>
public sealed partial class DovecotServer : IAsyncDisposable, IImapTestServer
{
    private const string InstallHint = "Install it with: apt-get install -y dovecot-imapd dovecot-pop3d";
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan StopTimeout = TimeSpan.FromSeconds(15);
    private static int s_userCounter;

    private readonly string _binary;
    private readonly string _configPath;
    private readonly StringBuilder _consoleOutput = new();
    private readonly OAuth2IntrospectionServer? _oauth2;
    private Process? _process;
    private bool _disposed;

    private DovecotServer(
        string binary, string rootDirectory, DovecotOptions options, string certificateSha256, OAuth2IntrospectionServer? oauth2)
    {
        _binary = binary;
        RootDirectory = rootDirectory;
        Options = options;
        CertificateSha256 = certificateSha256;
        _oauth2 = oauth2;
        _configPath = Path.Combine(rootDirectory, "dovecot.conf");
    }

    /// <inheritdoc/>
    public string Name => "Dovecot";

    /// <inheritdoc/>
    Task<TestUser> IImapTestServer.CreateTestUserAsync(string prefix) => CreateUserAsync(prefix);

    public string Host => "127.0.0.1";

    public int ImapPort { get; private set; }

    public int ImapsPort { get; private set; }

    public int Pop3Port { get; private set; }

    public int Pop3sPort { get; private set; }

    /// <summary>The options the server runs with now (see <see cref="RestartAsync(DovecotOptions, CancellationToken)"/>).</summary>
    public DovecotOptions Options { get; private set; }

    public string RootDirectory { get; }

    public string CertificatePath => Path.Combine(RootDirectory, "tls", "cert.pem");

    /// <summary>Uppercase hex SHA-256 of the server certificate (DER), for pinning in clients.</summary>
    public string CertificateSha256 { get; }

    public string LogPath => Path.Combine(RootDirectory, "dovecot.log");

    /// <summary>The generated dovecot.conf, for doveadm calls against this server.</summary>
    public string ConfigPath => _configPath;

    /// <summary>Hierarchy separator of the personal namespace, as configured.</summary>
    public char DirectorySeparator => Options.NamespaceStyle == NamespaceStyle.InboxPrefixDot ? '.' : '/';

    /// <summary>Personal namespace prefix, as configured ("" or "INBOX.").</summary>
    public string NamespacePrefix => Options.NamespaceStyle == NamespaceStyle.InboxPrefixDot ? "INBOX." : "";

    /// <summary>
    /// The test-local token introspection endpoint Dovecot asks about XOAUTH2/OAUTHBEARER tokens;
    /// null unless <see cref="DovecotOptions.OAuth2"/> is on.
    /// </summary>
    public OAuth2IntrospectionServer? OAuth2Endpoint => _oauth2;

    /// <summary>PID of the running dovecot master, or null while stopped.</summary>
    public int? ProcessId => _process is { HasExited: false } p ? p.Id : null;

    /// <summary>Dovecot 2.3's post-login capabilities less BINARY (RFC 3516).</summary>
    private const string CapabilitiesWithoutBinary =
        "IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE SORT SORT=DISPLAY THREAD=REFERENCES THREAD=REFS THREAD=ORDEREDSUBJECT "
        + "MULTIAPPEND URL-PARTIAL CATENATE UNSELECT CHILDREN NAMESPACE UIDPLUS LIST-EXTENDED I18NLEVEL=1 CONDSTORE QRESYNC ESEARCH "
        + "ESORT SEARCHRES WITHIN CONTEXT=SEARCH LIST-STATUS MOVE SNIPPET=FUZZY PREVIEW=FUZZY PREVIEW STATUS=SIZE SAVEDATE LITERAL+ SPECIAL-USE";

    /// <summary>Dovecot's own list (empty) unless an option leaves something out; then the whole list, less what is left out.</summary>
    private string ImapCapability()
    {
        if (!Options.WithoutBinary && !Options.WithoutMove)
            return "";
        var capabilities = CapabilitiesWithoutBinary.Split(' ').ToList();
        if (!Options.WithoutBinary)
            capabilities.Add("BINARY");
        if (Options.WithoutMove)
            capabilities.Remove("MOVE");
        return string.Join(' ', capabilities);
    }

    private string UsersDirectory => Path.Combine(RootDirectory, "users.d");

    public static async Task<DovecotServer> StartAsync(DovecotOptions? options = null, CancellationToken ct = default)
    {
        if (!OperatingSystem.IsLinux())
        {
            throw new PlatformNotSupportedException("The Dovecot test server runs on Linux only.");
        }

        options ??= new DovecotOptions();
        ValidateOptions(options);
        var binary = FindBinary(options);
        if (!Environment.IsPrivilegedProcess)
        {
            // Dovecot's master must run as root to switch mail processes to another uid;
            // a rootless setup would need a different template.
            throw new InvalidOperationException(
                "The Dovecot test server must be started by root (the test process runs as uid "
                + $"{Environment.UserName}). Run the tests as root, e.g. in the CI container.");
        }

        var internalUser = RequireAccount("dovecot");
        var loginUser = RequireAccount("dovenull");
        var mailUser = RequireAccount("nobody");
        var template = await ReadTemplateAsync(ct);

        var root = Directory.CreateTempSubdirectory("mailsync-dovecot-").FullName;
        try
        {
            // Login and mail processes run unprivileged and must traverse into the folder.
            File.SetUnixFileMode(root, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute
                | UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute);
            Directory.CreateDirectory(Path.Combine(root, "users.d"));
            var mailDirectory = Directory.CreateDirectory(Path.Combine(root, "mail")).FullName;
            if (NativeMethods.Chown(mailDirectory, mailUser.Uid, mailUser.Gid) != 0)
            {
                throw new InvalidOperationException(
                    $"chown {mailDirectory} to nobody failed: errno {Marshal.GetLastPInvokeError()}.");
            }

            var sha256 = await CreateCertificateAsync(Path.Combine(root, "tls"), ct);
            var server = new DovecotServer(
                binary, root, options, sha256, options.OAuth2 ? OAuth2IntrospectionServer.Start() : null);
            try
            {
                await server.StartFirstTimeAsync(template, internalUser, loginUser, mailUser, ct);
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
    /// Adds a fresh user with a random password. Each user gets its own passwd-file
    /// (users.d/NAME): Dovecot stats a passwd-file at most once per second, so appending to one
    /// shared file can leave a just-added user unknown for up to a second. A file nobody has
    /// looked up yet is always read fresh.
    /// </summary>
    public async Task<TestUser> CreateUserAsync(string? namePrefix = null)
    {
        var prefix = string.IsNullOrEmpty(namePrefix) ? "user" : namePrefix.ToLowerInvariant();
        if (!prefix.All(c => char.IsAsciiLetterOrDigit(c) || c == '-' || c == '_'))
        {
            throw new ArgumentException("A user name prefix may use only ASCII letters, digits, '-' and '_'.", nameof(namePrefix));
        }

        var name = $"{prefix}-{Interlocked.Increment(ref s_userCounter)}-{RandomNumberGenerator.GetHexString(6, lowercase: true)}";
        var user = new TestUser(name, RandomNumberGenerator.GetHexString(16, lowercase: true));

        // Write then rename, so the auth process never reads a half-written line.
        var path = Path.Combine(UsersDirectory, name);
        var temp = path + ".tmp";
        await File.WriteAllTextAsync(temp, $"{user.Name}:{{PLAIN}}{user.Password}::::::\n");
        File.Move(temp, path, overwrite: true);
        return user;
    }

    /// <summary>Logs in on the plain IMAP port; the caller owns (and disposes) the client.</summary>
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
    /// Logs in on the plain POP3 port with MailKit's own choice of mechanism (APOP when
    /// <see cref="DovecotOptions.Apop"/> is on, else SASL PLAIN); the caller owns (and disposes) the client.
    /// </summary>
    public async Task<Pop3Client> Pop3ConnectAsync(TestUser user, CancellationToken ct = default)
    {
        var client = new Pop3Client();
        try
        {
            await client.ConnectAsync(Host, Pop3Port, SecureSocketOptions.None, ct);
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
    /// A fresh bearer token for XOAUTH2/OAUTHBEARER logins as <paramref name="user"/>
    /// (MailKit: new SaslMechanismOAuth2(user.Name, token)). Needs <see cref="DovecotOptions.OAuth2"/>.
    /// </summary>
    public string IssueOAuth2Token(TestUser user) => RequireOAuth2().Issue(user.Name);

    /// <summary>Makes an issued token introspect as inactive, as an expired or revoked one would.</summary>
    public void RevokeOAuth2Token(string token)
    {
        if (!RequireOAuth2().Revoke(token))
        {
            throw new ArgumentException("This server never issued that token (or it is already revoked).", nameof(token));
        }
    }

    /// <summary>
    /// APPENDs messages to FOLDER (full path with this server's separator, e.g. "Archive/2020"
    /// or "INBOX.Archive"), creating it and its parents as needed (subscribed unless
    /// <paramref name="subscribe"/> is false).
    /// Returns the UIDs the server assigned, in input order.
    /// Bytes are stored exactly as given: they go in hand-written APPENDs (<see cref="RawImapSession"/>).
    /// </summary>
    public async Task<IReadOnlyList<UniqueId>> SeedAsync(
        TestUser user, string folder, IEnumerable<SeedMessage> messages, bool subscribe = true, CancellationToken ct = default)
    {
        using var client = await ConnectAsync(user, ct);
        await GetOrCreateFolderAsync(client, folder, subscribe, ct);
        await client.DisconnectAsync(quit: true, ct);

        // Hand-written APPENDs: the server gets exactly these bytes, never MailSync's or MimeKit's rendering of them.
        var uids = new List<UniqueId>();
        await using var raw = await RawImapSession.LoginAsync(Host, ImapPort, user.Name, user.Password, ct);
        foreach (var m in messages)
        {
            uids.Add(await raw.AppendAsync(folder, m.Raw, m.Flags, m.Keywords, m.InternalDate, ct: ct)
                ?? throw new InvalidOperationException("Dovecot gave no APPENDUID"));
        }

        return uids;
    }

    /// <summary>Stops Dovecot and starts it again on the same ports with the same data.</summary>
    public async Task RestartAsync(CancellationToken ct = default)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        await StopAsync();
        await StartProcessAsync(ct);
    }

    /// <summary>
    /// Stops Dovecot and starts it again with <paramref name="newOptions"/>, on the same ports with
    /// the same users and mail: e.g. to lift a <see cref="DovecotOptions.MaxMailSizeKb"/> limit
    /// between two runs of a job. Only server behaviour may change. The namespace style (it is the
    /// mail layout clients saw), OAuth2 (its endpoint lives as long as the server) and the binary
    /// must stay as they were.
    /// </summary>
    public async Task RestartAsync(DovecotOptions newOptions, CancellationToken ct = default)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        ArgumentNullException.ThrowIfNull(newOptions);
        ValidateOptions(newOptions);
        if (newOptions.NamespaceStyle != Options.NamespaceStyle || newOptions.OAuth2 != Options.OAuth2 || newOptions.DovecotPath != Options.DovecotPath)
        {
            throw new ArgumentException("A restart may not change NamespaceStyle, OAuth2 or DovecotPath; start another server instead.", nameof(newOptions));
        }

        var template = await ReadTemplateAsync(ct);
        await StopAsync();
        Options = newOptions;
        await WriteConfigAsync(template, RequireAccount("dovecot"), RequireAccount("dovenull"), RequireAccount("nobody"), ct);
        await StartProcessAsync(ct);
    }

    /// <summary>
    /// Sends SIGTERM to exactly our dovecot master (it stops its own children) and waits;
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

    public async ValueTask DisposeAsync()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        await StopAsync();
        if (_oauth2 is not null)
        {
            await _oauth2.DisposeAsync();
        }

        ServerProcess.TryDeleteDirectory(RootDirectory);
    }

    /// <summary>Tail of the server log, for failure messages.</summary>
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

    private static async Task<IMailFolder> GetOrCreateFolderAsync(ImapClient client, string folder, bool subscribe, CancellationToken ct)
    {
        if (string.Equals(folder, "INBOX", StringComparison.OrdinalIgnoreCase))
        {
            return client.Inbox;
        }

        var personal = client.PersonalNamespaces[0];
        var parent = client.GetFolder(personal)
            ?? throw new InvalidOperationException($"The server has no folder for namespace '{personal.Path}'.");
        var path = "";
        foreach (var segment in folder.Split(personal.DirectorySeparator))
        {
            path = path.Length == 0 ? segment : path + personal.DirectorySeparator + segment;
            IMailFolder current;
            try
            {
                current = await client.GetFolderAsync(path, ct);
            }
            catch (FolderNotFoundException)
            {
                // MailKit returns null only when the server created the folder but does not list it.
                current = await parent.CreateAsync(segment, isMessageFolder: true, ct)
                    ?? throw new InvalidOperationException($"Created '{path}' but the server does not list it.");
                if (subscribe)
                    await current.SubscribeAsync(ct);
            }

            parent = current;
        }

        return parent;
    }

    private async Task StartFirstTimeAsync(
        string template, UnixAccount internalUser, UnixAccount loginUser, UnixAccount mailUser, CancellationToken ct)
    {
        // Free ports are found by binding port 0 and releasing it, so another process may
        // grab one before Dovecot binds it; a few fresh picks make that race harmless.
        const int attempts = 3;
        for (var attempt = 1; ; attempt++)
        {
            var ports = PickFreePorts(4);
            (ImapPort, ImapsPort, Pop3Port, Pop3sPort) = (ports[0], ports[1], ports[2], ports[3]);
            await WriteConfigAsync(template, internalUser, loginUser, mailUser, ct);
            try
            {
                await StartProcessAsync(ct);
                return;
            }
            catch (InvalidOperationException) when (attempt < attempts && LogMentions("Address already in use"))
            {
                await StopAsync();
            }
        }
    }

    /// <summary>Renders dovecot.conf (and the OAuth2 passdb) for the current <see cref="Options"/> and ports.</summary>
    private async Task WriteConfigAsync(
        string template, UnixAccount internalUser, UnixAccount loginUser, UnixAccount mailUser, CancellationToken ct)
    {
        var quota = Options.MaxMailSizeKb is not null || Options.QuotaStorageKb is not null;
        var config = Render(template, new Dictionary<string, string>
        {
            ["ROOT"] = RootDirectory,
            ["INSTANCE"] = Path.GetFileName(RootDirectory),
            ["INTERNAL_USER"] = internalUser.Name,
            ["LOGIN_USER"] = loginUser.Name,
            ["MAIL_UID"] = mailUser.Uid.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["MAIL_GID"] = mailUser.Gid.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["NS_SEPARATOR"] = DirectorySeparator.ToString(),
            ["NS_PREFIX"] = NamespacePrefix,
            ["SPECIAL_AUTO"] = Options.AutoCreateSpecialFolders ? "subscribe" : "no",
            ["MAX_USER_CONNECTIONS"] = (Options.MaxUserConnections ?? 10).ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["AUTH_MECHANISMS"] = "plain login" + (Options.Apop ? " apop" : "") + (Options.OAuth2 ? " xoauth2 oauthbearer" : ""),
            ["POP3_LOCK_SESSION"] = Options.Pop3LockSession ? "yes" : "no",
            ["SSL"] = Options.DisableTls ? "no" : "yes",
            ["MAIL_PLUGINS"] = quota ? "quota" : "",
            ["IMAP_PLUGINS"] = quota ? "imap_quota" : "",
            ["IMAP_CAPABILITY"] = ImapCapability(),
            ["QUOTA_STORAGE"] = KiB(Options.QuotaStorageKb),
            ["QUOTA_MAX_MAIL_SIZE"] = KiB(Options.MaxMailSizeKb),
            ["IMAP_PORT"] = ImapPort.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["IMAPS_PORT"] = ImapsPort.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["POP3_PORT"] = Pop3Port.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["POP3S_PORT"] = Pop3sPort.ToString(System.Globalization.CultureInfo.InvariantCulture),
        });
        await File.WriteAllTextAsync(_configPath, config, ct);
        if (_oauth2 is not null)
        {
            await WriteOAuth2PassdbAsync(_oauth2.IntrospectionUrl, ct);
        }
    }

    private static string KiB(int? value) =>
        value is { } kib ? kib.ToString(System.Globalization.CultureInfo.InvariantCulture) + "K" : "0";

    /// <summary>
    /// The files the template's "!include_try ROOT/oauth2-passdb.conf" picks up: a passdb for
    /// XOAUTH2/OAUTHBEARER only, and its settings (introspection by POST, "username" and
    /// "active": true in the answer).
    /// </summary>
    private async Task WriteOAuth2PassdbAsync(Uri introspectionUrl, CancellationToken ct)
    {
        var settingsPath = Path.Combine(RootDirectory, "oauth2.conf.ext");
        await File.WriteAllTextAsync(settingsPath, $"""
            introspection_mode = post
            introspection_url = {introspectionUrl}
            username_attribute = username
            active_attribute = active
            active_value = true
            timeout_msecs = 5000

            """, ct);
        await File.WriteAllTextAsync(Path.Combine(RootDirectory, "oauth2-passdb.conf"), $$"""
            passdb {
              driver = oauth2
              mechanisms = xoauth2 oauthbearer
              args = {{settingsPath}}
              result_failure = return-fail
            }

            """, ct);
    }

    private OAuth2IntrospectionServer RequireOAuth2() =>
        _oauth2 ?? throw new InvalidOperationException("Start the server with DovecotOptions.OAuth2 = true to use OAuth2 tokens.");

    private static void ValidateOptions(DovecotOptions options)
    {
        if (options.MaxMailSizeKb is <= 0)
        {
            throw new ArgumentOutOfRangeException(nameof(options), options.MaxMailSizeKb, "MaxMailSizeKb must be positive (null: no limit).");
        }

        if (options.QuotaStorageKb is <= 0)
        {
            throw new ArgumentOutOfRangeException(nameof(options), options.QuotaStorageKb, "QuotaStorageKb must be positive (null: no quota).");
        }
    }

    private async Task StartProcessAsync(CancellationToken ct)
    {
        lock (_consoleOutput)
        {
            _consoleOutput.Clear();
        }

        var startInfo = new ProcessStartInfo(_binary)
        {
            ArgumentList = { "-F", "-c", _configPath },
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        var process = new Process { StartInfo = startInfo };
        process.OutputDataReceived += (_, e) => AppendConsole(e.Data);
        process.ErrorDataReceived += (_, e) => AppendConsole(e.Data);
        if (!process.Start())
        {
            process.Dispose();
            throw new InvalidOperationException($"Could not start {_binary}. {InstallHint}");
        }

        _process = process;
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        await WaitUntilReadyAsync(process, ct);
    }

    private Task WaitUntilReadyAsync(Process process, CancellationToken ct)
        => ServerProcess.WaitForGreetingAsync(process, "dovecot", ImapPort, StartTimeout, StartFailure, ct);

    private InvalidOperationException StartFailure(string what)
    {
        string console;
        lock (_consoleOutput)
        {
            console = _consoleOutput.ToString();
        }

        return new InvalidOperationException(
            $"Could not start the test Dovecot ({_binary} -F -c {_configPath}): {what}\n"
            + $"If the log complains about a missing protocol or binary: {InstallHint}\n"
            + $"--- dovecot stdout/stderr ---\n{console}\n--- {LogPath} (tail) ---\n{ReadLogTail()}");
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

    private bool LogMentions(string text)
    {
        lock (_consoleOutput)
        {
            if (_consoleOutput.ToString().Contains(text, StringComparison.Ordinal))
            {
                return true;
            }
        }

        return ReadLogTail().Contains(text, StringComparison.Ordinal);
    }

    private static string FindBinary(DovecotOptions options)
    {
        if (options.DovecotPath is not null)
        {
            return File.Exists(options.DovecotPath)
                ? options.DovecotPath
                : throw new InvalidOperationException($"Dovecot binary not found at {options.DovecotPath}. {InstallHint}");
        }

        const string debianPath = "/usr/sbin/dovecot";
        if (File.Exists(debianPath))
        {
            return debianPath;
        }

        var onPath = (Environment.GetEnvironmentVariable("PATH") ?? "")
            .Split(':', StringSplitOptions.RemoveEmptyEntries)
            .Select(dir => Path.Combine(dir, "dovecot"))
            .FirstOrDefault(File.Exists);
        return onPath ?? throw new InvalidOperationException(
            $"Dovecot is not installed: no {debianPath} and no 'dovecot' on PATH. {InstallHint}");
    }

    private static UnixAccount RequireAccount(string name)
    {
        // Read /etc/passwd directly: .NET has no getpwnam, and these are local system accounts.
        foreach (var line in File.ReadLines("/etc/passwd"))
        {
            var fields = line.Split(':');
            if (fields.Length >= 4 && fields[0] == name
                && int.TryParse(fields[2], System.Globalization.CultureInfo.InvariantCulture, out var uid)
                && int.TryParse(fields[3], System.Globalization.CultureInfo.InvariantCulture, out var gid))
            {
                return new UnixAccount(name, uid, gid);
            }
        }

        throw new InvalidOperationException(
            $"System account '{name}' is missing; the Debian dovecot-core package creates 'dovecot' and 'dovenull'. {InstallHint}");
    }

    private static async Task<string> ReadTemplateAsync(CancellationToken ct)
    {
        var path = Path.Combine(AppContext.BaseDirectory, "dovecot", "dovecot.conf.template");
        if (!File.Exists(path))
        {
            throw new InvalidOperationException(
                $"{path} is missing; MailSync.Tests.csproj copies tests/dovecot/dovecot.conf.template there on build.");
        }

        return await File.ReadAllTextAsync(path, ct);
    }

    private static string Render(string template, IReadOnlyDictionary<string, string> values)
    {
        var text = template;
        foreach (var (key, value) in values)
        {
            text = text.Replace($"@@{key}@@", value, StringComparison.Ordinal);
        }

        var leftover = text.IndexOf("@@", StringComparison.Ordinal);
        if (leftover >= 0)
        {
            var end = text.IndexOf('\n', leftover);
            throw new InvalidOperationException(
                $"dovecot.conf.template has a token the fixture does not fill: {text[leftover..(end < 0 ? text.Length : end)]}");
        }

        return text;
    }

    private static async Task<string> CreateCertificateAsync(string directory, CancellationToken ct)
    {
        Directory.CreateDirectory(directory);
        var certPath = Path.Combine(directory, "cert.pem");
        var keyPath = Path.Combine(directory, "key.pem");

        // The same openssl call as scripts/demo-dovecot.sh; an EC key takes milliseconds,
        // so every server gets its own certificate and pinning tests cannot mix them up.
        var startInfo = new ProcessStartInfo("openssl")
        {
            ArgumentList =
            {
                "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                "-keyout", keyPath, "-out", certPath, "-days", "3650", "-subj", "/CN=localhost",
                "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
            },
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        Process process;
        try
        {
            process = Process.Start(startInfo) ?? throw new InvalidOperationException("openssl did not start.");
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            throw new InvalidOperationException(
                $"openssl is needed to make the test certificate but could not be run ({e.Message}). Install it with: apt-get install -y openssl", e);
        }

        using (process)
        {
            var stderr = process.StandardError.ReadToEndAsync(ct);
            await process.StandardOutput.ReadToEndAsync(ct);
            await process.WaitForExitAsync(ct);
            if (process.ExitCode != 0)
            {
                throw new InvalidOperationException($"openssl req failed (exit {process.ExitCode}): {await stderr}");
            }
        }

        using var certificate = X509CertificateLoader.LoadCertificateFromFile(certPath);
        return certificate.GetCertHashString(HashAlgorithmName.SHA256);
    }

    private static int[] PickFreePorts(int count)
    {
        // Hold all listeners open together so the picks are distinct.
        var listeners = Enumerable.Range(0, count).Select(_ => new TcpListener(IPAddress.Loopback, 0)).ToList();
        try
        {
            listeners.ForEach(l => l.Start());
            return listeners.Select(l => ((IPEndPoint)l.LocalEndpoint).Port).ToArray();
        }
        finally
        {
            listeners.ForEach(l => l.Stop());
        }
    }

    private sealed record UnixAccount(string Name, int Uid, int Gid);
}
