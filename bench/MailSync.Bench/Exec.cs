using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;

[assembly: System.Runtime.Versioning.SupportedOSPlatform("linux")]

namespace MailSync.Bench;

/// <summary>The outcome of one timed tool run.</summary>
internal sealed record RunOutcome(int ExitCode, double WallSeconds, long PeakRssKb, string StdoutPath, string StderrPath, bool TimedOut)
{
    public bool Ok => ExitCode == 0 && !TimedOut;

    public string FailureText()
    {
        var tail = File.Exists(StderrPath) ? File.ReadAllText(StderrPath).Trim() : "";
        if (tail.Length == 0 && File.Exists(StdoutPath)) tail = File.ReadAllText(StdoutPath).Trim();
        tail = DovecotInstance.Tail(tail, 4).ReplaceLineEndings(" ⏎ ");
        if (tail.Length > 400) tail = "…" + tail[^400..];
        return (TimedOut ? "timed out" : $"exit {ExitCode}") + (tail.Length > 0 ? ": " + tail : "");
    }
}

internal static partial class Exec
{
    /// <summary>
    /// Runs a tool under GNU time (/usr/bin/time -f %M): peak RSS is the ru_maxrss that wait4()
    /// reports for the tool, i.e. the largest resident set of the tool process (or of a descendant
    /// it waited for), in KiB. Wall time is a Stopwatch around the whole process.
    /// stdout/stderr go to files beside <paramref name="logPrefix"/>.
    /// </summary>
    public static async Task<RunOutcome> TimedAsync(
        string file, IReadOnlyList<string> args, string logPrefix, TimeSpan timeout,
        IReadOnlyDictionary<string, string>? env, CancellationToken ct)
    {
        var rssFile = logPrefix + ".rss";
        var stdoutPath = logPrefix + ".out";
        var stderrPath = logPrefix + ".err";
        var psi = new ProcessStartInfo("/usr/bin/time")
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = Path.GetDirectoryName(logPrefix),
        };
        foreach (var a in new[] { "-f", "%M", "-o", rssFile, file }.Concat(args)) psi.ArgumentList.Add(a);
        if (env is not null)
            foreach (var (k, v) in env) psi.Environment[k] = v;

        await using var stdout = File.Create(stdoutPath);
        await using var stderr = File.Create(stderrPath);
        var sw = Stopwatch.StartNew();
        using var p = Process.Start(psi) ?? throw new InvalidOperationException($"{file} did not start");
        p.StandardInput.Close();
        var copyOut = p.StandardOutput.BaseStream.CopyToAsync(stdout, CancellationToken.None);
        var copyErr = p.StandardError.BaseStream.CopyToAsync(stderr, CancellationToken.None);
        var timedOut = false;
        using (var limit = CancellationTokenSource.CreateLinkedTokenSource(ct))
        {
            limit.CancelAfter(timeout);
            try
            {
                await p.WaitForExitAsync(limit.Token);
            }
            catch (OperationCanceledException)
            {
                timedOut = !ct.IsCancellationRequested;
                // Our own child (time) and the tool below it.
                try { p.Kill(entireProcessTree: true); } catch (InvalidOperationException) { }
                await p.WaitForExitAsync(CancellationToken.None);
            }
        }
        sw.Stop();
        await Task.WhenAll(copyOut, copyErr);
        ct.ThrowIfCancellationRequested();

        long rss = 0;
        if (File.Exists(rssFile))
        {
            // GNU time writes "Command exited with non-zero status N" before the format line.
            var last = File.ReadAllLines(rssFile).LastOrDefault(l => l.Trim().Length > 0)?.Trim();
            _ = long.TryParse(last, NumberStyles.None, CultureInfo.InvariantCulture, out rss);
        }
        return new RunOutcome(p.ExitCode, sw.Elapsed.TotalSeconds, rss, stdoutPath, stderrPath, timedOut);
    }

    public static async Task<string> CaptureAsync(string file, IReadOnlyList<string> args, CancellationToken ct, bool mergeStderr = false)
    {
        var psi = new ProcessStartInfo(file)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi) ?? throw new InvalidOperationException($"{file} did not start");
        p.StandardInput.Close();
        var o = p.StandardOutput.ReadToEndAsync(ct);
        var e = p.StandardError.ReadToEndAsync(ct);
        await p.WaitForExitAsync(ct);
        return mergeStderr ? await o + await e : await o;
    }

    public static async Task CheckAsync(string file, IReadOnlyList<string> args, CancellationToken ct)
    {
        var psi = new ProcessStartInfo(file)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi) ?? throw new InvalidOperationException($"{file} did not start");
        var o = p.StandardOutput.ReadToEndAsync(ct);
        var e = p.StandardError.ReadToEndAsync(ct);
        await p.WaitForExitAsync(ct);
        if (p.ExitCode != 0)
            throw new InvalidOperationException($"{file} {string.Join(' ', args)} failed (exit {p.ExitCode}): {await e}{await o}");
    }

    public static void Kill(int pid, int signal) => _ = SysKill(pid, signal);

    [DllImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static extern int SysKill(int pid, int sig);
}
