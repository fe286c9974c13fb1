using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.RegularExpressions;

namespace MailSync.Bench;

/// <summary>
/// A private Dovecot rendered from tests/dovecot/dovecot.conf.template (same tokens as
/// scripts/demo-dovecot.sh), listening on free 127.0.0.1 ports, plain text only (ssl = no, so no
/// tool negotiates TLS), sdbox mail under ROOT/mail/USER. Started with setsid so a Ctrl+C in the
/// terminal reaches the benchmark first, which then stops it by PID.
/// </summary>
internal sealed partial class DovecotInstance : IAsyncDisposable
{
    public const string Password = "bench-secret";

    private Process? _process;

    private DovecotInstance(string root) => Root = root;

    public string Root { get; }
    public int ImapPort { get; private set; }
    public int Pid => _process?.Id ?? 0;
    public string MailRoot => Path.Combine(Root, "mail");
    public string Version { get; private set; } = "?";
    public string PasswordFile => Path.Combine(Root, "password");

    public static async Task<DovecotInstance> StartAsync(string root, string templatePath, int maxUserConnections, CancellationToken ct)
    {
        var d = new DovecotInstance(root);
        await d.StartCoreAsync(templatePath, maxUserConnections, ct);
        return d;
    }

    private async Task StartCoreAsync(string templatePath, int maxUserConnections, CancellationToken ct)
    {
        var dovecot = File.Exists("/usr/sbin/dovecot") ? "/usr/sbin/dovecot" : "dovecot";
        Version = (await Exec.CaptureAsync(dovecot, ["--version"], ct)).Trim();
        Directory.CreateDirectory(Root);
        Directory.CreateDirectory(Path.Combine(Root, "users.d"));
        Directory.CreateDirectory(MailRoot);
        // Login and mail processes run unprivileged and must reach into ROOT.
        File.SetUnixFileMode(Root, (UnixFileMode)0b111_101_101);
        var (uid, gid) = (await IdAsync("-u", ct), await IdAsync("-g", ct));
        await Exec.CheckAsync("chown", [$"{uid}:{gid}", MailRoot], ct);
        await File.WriteAllTextAsync(PasswordFile, Password + "\n", ct);

        var template = await File.ReadAllTextAsync(templatePath, ct);
        for (var attempt = 1; ; attempt++)
        {
            var ports = PickFreePorts(4);
            ImapPort = ports[0];
            var tokens = new Dictionary<string, string>
            {
                ["ROOT"] = Root,
                ["INSTANCE"] = "mailsync-bench-" + Path.GetFileName(Root),
                ["INTERNAL_USER"] = "dovecot",
                ["LOGIN_USER"] = "dovenull",
                ["MAIL_UID"] = uid,
                ["MAIL_GID"] = gid,
                ["NS_SEPARATOR"] = "/",
                ["NS_PREFIX"] = "",
                ["SPECIAL_AUTO"] = "subscribe",
                ["MAX_USER_CONNECTIONS"] = maxUserConnections.ToString(CultureInfo.InvariantCulture),
                ["AUTH_MECHANISMS"] = "plain login",
                ["POP3_LOCK_SESSION"] = "no",
                // Plain text on loopback for every tool alike: no STARTTLS offered, no TLS cost.
                ["SSL"] = "no",
                ["MAIL_PLUGINS"] = "",
                ["IMAP_PLUGINS"] = "",
                ["IMAP_CAPABILITY"] = "",
                ["QUOTA_STORAGE"] = "0",
                ["QUOTA_MAX_MAIL_SIZE"] = "0",
                ["IMAP_PORT"] = ports[0].ToString(CultureInfo.InvariantCulture),
                ["IMAPS_PORT"] = ports[1].ToString(CultureInfo.InvariantCulture),
                ["POP3_PORT"] = ports[2].ToString(CultureInfo.InvariantCulture),
                ["POP3S_PORT"] = ports[3].ToString(CultureInfo.InvariantCulture),
            };
            var config = TokenPattern().Replace(template, m =>
                tokens.TryGetValue(m.Groups[1].Value, out var v) ? v : throw new InvalidOperationException($"template token {m.Value} is not filled"));
            await File.WriteAllTextAsync(Path.Combine(Root, "dovecot.conf"), config, ct);
            // ssl = no still names the certificate files; an empty pair keeps the config valid.
            Directory.CreateDirectory(Path.Combine(Root, "tls"));
            await File.WriteAllTextAsync(Path.Combine(Root, "tls", "cert.pem"), "", ct);
            await File.WriteAllTextAsync(Path.Combine(Root, "tls", "key.pem"), "", ct);

            var psi = new ProcessStartInfo("setsid")
            {
                RedirectStandardInput = true,
                RedirectStandardOutput = false,
                RedirectStandardError = false,
                UseShellExecute = false,
            };
            // setsid without --fork execs dovecot in place, so the PID is Dovecot's.
            foreach (var a in new[] { dovecot, "-F", "-c", Path.Combine(Root, "dovecot.conf") }) psi.ArgumentList.Add(a);
            _process = Process.Start(psi) ?? throw new InvalidOperationException("dovecot did not start");
            await File.WriteAllTextAsync(Path.Combine(Root, "dovecot.pid"), _process.Id.ToString(CultureInfo.InvariantCulture), ct);

            var deadline = Stopwatch.StartNew();
            while (deadline.Elapsed < TimeSpan.FromSeconds(30))
            {
                if (_process.HasExited) break;
                if (await GreetsAsync(ct)) return;
                await Task.Delay(100, ct);
            }

            var log = File.Exists(Path.Combine(Root, "dovecot.log")) ? await File.ReadAllTextAsync(Path.Combine(Root, "dovecot.log"), ct) : "";
            await StopAsync();
            if (attempt < 3 && log.Contains("Address already in use", StringComparison.Ordinal)) continue;
            throw new InvalidOperationException("Dovecot did not come up. Log tail:\n" + Tail(log, 20));
        }
    }

    private async Task<bool> GreetsAsync(CancellationToken ct)
    {
        try
        {
            using var client = new TcpClient();
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
            timeout.CancelAfter(2000);
            await client.ConnectAsync(IPAddress.Loopback, ImapPort, timeout.Token);
            var buffer = new byte[4];
            var n = await client.GetStream().ReadAtLeastAsync(buffer, 4, false, timeout.Token);
            return n == 4 && Encoding.ASCII.GetString(buffer) == "* OK";
        }
        catch (Exception e) when (e is SocketException or IOException or OperationCanceledException && !ct.IsCancellationRequested)
        {
            return false;
        }
    }

    /// <summary>A passwd-file entry, as demo-dovecot.sh add-user writes it (written then renamed).</summary>
    public void AddUser(string name)
    {
        var file = Path.Combine(Root, "users.d", name);
        File.WriteAllText(file + ".tmp", $"{name}:{{PLAIN}}{Password}::::::\n");
        File.Move(file + ".tmp", file, overwrite: true);
    }

    public string HomeOf(string user) => Path.Combine(MailRoot, user);

    /// <summary>
    /// A new user whose mail is a byte copy of <paramref name="from"/>'s home (cp -a keeps owner,
    /// modes and times). sdbox keeps UIDVALIDITY, UIDs, flags and keywords in its index files, so the
    /// copy shows exactly the same IMAP state. The caller makes sure no session of either user is open.
    /// </summary>
    public async Task CloneUserAsync(string from, string to, CancellationToken ct)
    {
        if (Directory.Exists(HomeOf(to))) throw new InvalidOperationException($"user {to} already has mail");
        await Exec.CheckAsync("cp", ["-a", HomeOf(from), HomeOf(to)], ct);
        AddUser(to);
    }

    public void DeleteUser(string user)
    {
        var home = HomeOf(user);
        if (Directory.Exists(home)) Directory.Delete(home, recursive: true);
        File.Delete(Path.Combine(Root, "users.d", user));
    }

    public long DiskBytesOf(string user) =>
        Directory.Exists(HomeOf(user))
            ? new DirectoryInfo(HomeOf(user)).EnumerateFiles("*", SearchOption.AllDirectories).Sum(f => f.Length)
            : 0;

    public async Task StopAsync()
    {
        if (_process is null) return;
        try
        {
            if (!_process.HasExited)
            {
                Exec.Kill(_process.Id, 15);
                using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(15));
                try { await _process.WaitForExitAsync(cts.Token); }
                catch (OperationCanceledException) { Exec.Kill(_process.Id, 9); }
            }
        }
        catch (InvalidOperationException)
        {
            // Already gone.
        }
        _process.Dispose();
        _process = null;
        File.Delete(Path.Combine(Root, "dovecot.pid"));
    }

    public async ValueTask DisposeAsync() => await StopAsync();

    private static async Task<string> IdAsync(string flag, CancellationToken ct) =>
        (await Exec.CaptureAsync("id", [flag, "nobody"], ct)).Trim();

    private static int[] PickFreePorts(int count)
    {
        var listeners = new List<TcpListener>();
        try
        {
            for (var i = 0; i < count; i++)
            {
                var l = new TcpListener(IPAddress.Loopback, 0);
                l.Start();
                listeners.Add(l);
            }
            return [.. listeners.Select(l => ((IPEndPoint)l.LocalEndpoint).Port)];
        }
        finally
        {
            foreach (var l in listeners) l.Stop();
        }
    }

    internal static string Tail(string text, int lines) =>
        string.Join('\n', text.Split('\n').TakeLast(lines));

    [GeneratedRegex("@@([A-Z0-9_]+)@@")]
    private static partial Regex TokenPattern();
}
