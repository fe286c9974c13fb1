using System.Diagnostics;
using System.Globalization;
using System.Text;

namespace MailSync.Tests.Support;

/// <summary>What one <see cref="CliRun"/> of the mailsync command came to.</summary>
/// <param name="ExitCode">The process's exit code; 137 (128 + SIGKILL) when the deadline or the memory ceiling killed it.</param>
/// <param name="Output">Standard output, then standard error, as the process printed them (each capped, see <see cref="CliRun.OutputCap"/>).</param>
/// <param name="Stdout">Standard output alone.</param>
/// <param name="Stderr">Standard error alone.</param>
/// <param name="WallTime">From the start of the process to its exit (or its death after the deadline).</param>
/// <param name="PeakBytes">
/// The largest VmHWM (peak resident set) read from /proc/&lt;pid&gt;/status while the process ran; see
/// <see cref="CliRun"/> for how and what it can miss. 0 if no sample could be taken.
/// </param>
/// <param name="Samples">How many times VmHWM was read.</param>
/// <param name="TimedOut">The deadline passed and the process was killed.</param>
/// <param name="OverMemory">A sample exceeded the memory ceiling and the process was killed.</param>
public sealed record CliRunResult(
    int ExitCode, string Output, string Stdout, string Stderr, TimeSpan WallTime, long PeakBytes, int Samples, bool TimedOut, bool OverMemory)
{
    /// <summary><see cref="PeakBytes"/> in MiB, for messages.</summary>
    public double PeakMiB => PeakBytes / (1024.0 * 1024.0);

    public override string ToString() =>
        string.Create(CultureInfo.InvariantCulture, $"exit {ExitCode}{(TimedOut ? " (killed at the deadline)" : "")}{(OverMemory ? " (killed over the memory ceiling)" : "")}, {WallTime.TotalSeconds:F1} s, peak {PeakMiB:F0} MiB ({Samples} samples)");
}

/// <summary>
/// Runs the built mailsync command (<see cref="CliProcess"/>: <c>dotnet mailsync.dll ...</c>) with a wall-clock deadline
/// and measures its peak memory from outside the process.
/// <para>
/// Deadline: when it passes, the process is killed with SIGKILL (<see cref="Process.Kill(bool)"/> without its tree:
/// <c>dotnet mailsync.dll</c> runs the app in the host process itself, so that is the whole CLI and nothing else
/// of the machine is touched), and its output so far is kept. An optional memory ceiling does the same as soon as a
/// sample of the peak exceeds it, so a run that balloons fails its test instead of taking the machine's memory (it
/// may overshoot the ceiling by what it allocates in one <see cref="SampleInterval"/>).
/// </para>
/// <para>
/// Peak memory: a sampler reads VmHWM from /proc/&lt;pid&gt;/status right after the start and then every
/// <see cref="SampleInterval"/> until the process exits. VmHWM is the kernel's own high-water mark of the resident set
/// (it never goes down), so the last sample holds the peak up to its moment, however briefly the memory was held;
/// what a sample can miss is only growth in the last interval before the exit (the mm is gone once the process is a
/// zombie, so there is no reading after the end), and a process that ends before the first sample reports 0. It is
/// resident memory (RSS: heap, code, mapped runtime files actually in RAM), not the GC heap alone, and it counts
/// only this process (the dotnet host, which is the CLI).
/// </para>
/// </summary>
public static class CliRun
{
    /// <summary>How often VmHWM is read.</summary>
    public static readonly TimeSpan SampleInterval = TimeSpan.FromMilliseconds(20);

    /// <summary>Characters kept of each of stdout and stderr; the rest is read and dropped (a flood must not fill the test's memory).</summary>
    public const int OutputCap = 4 * 1024 * 1024;

    /// <summary>Runs <c>mailsync <paramref name="args"/></c> for at most <paramref name="deadline"/>, with no memory ceiling.</summary>
    public static Task<CliRunResult> RunAsync(TimeSpan deadline, params string[] args) => RunAsync(deadline, null, args);

    /// <summary>
    /// Runs <c>mailsync <paramref name="args"/></c> for at most <paramref name="deadline"/>, and kills it as soon as its
    /// peak resident set is seen above <paramref name="memoryCeilingBytes"/> (null: no ceiling).
    /// </summary>
    public static async Task<CliRunResult> RunAsync(TimeSpan deadline, long? memoryCeilingBytes, params string[] args)
    {
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(deadline, TimeSpan.Zero);
        if (memoryCeilingBytes is { } ceiling)
        {
            ArgumentOutOfRangeException.ThrowIfNegativeOrZero(ceiling, nameof(memoryCeilingBytes));
        }

        var clock = Stopwatch.StartNew();
        using var process = CliProcess.Start(args);
        var statusPath = $"/proc/{process.Id}/status";
        var stdout = ReadCappedAsync(process.StandardOutput);
        var stderr = ReadCappedAsync(process.StandardError);
        using var exited = new CancellationTokenSource();
        var overMemory = false;
        var sampler = SampleAsync(statusPath, peak =>
        {
            if (memoryCeilingBytes is not { } limit || peak <= limit || overMemory)
            {
                return;
            }

            overMemory = true;
            Kill(process);
        }, exited.Token);

        var timedOut = false;
        using (var timeout = new CancellationTokenSource(deadline))
        {
            try
            {
                await process.WaitForExitAsync(timeout.Token);
            }
            catch (OperationCanceledException) when (timeout.IsCancellationRequested)
            {
                timedOut = true;
                Kill(process);
                await process.WaitForExitAsync();
            }
        }

        var wall = clock.Elapsed;
        await exited.CancelAsync();
        var (peak, samples) = await sampler;
        var (outText, errText) = (await stdout, await stderr);
        return new CliRunResult(process.ExitCode, outText + errText, outText, errText, wall, peak, samples, timedOut && !overMemory, overMemory);
    }

    /// <summary>SIGKILL to the CLI's own process (the dotnet host running mailsync.dll), not to anything it started.</summary>
    private static void Kill(Process process)
    {
        try
        {
            process.Kill(entireProcessTree: false);
        }
        catch (InvalidOperationException)
        {
            // It exited just before the kill.
        }
    }

    /// <summary>
    /// Reads VmHWM until cancelled or the process is gone, handing each peak so far to <paramref name="sampled"/>;
    /// returns the largest value and the count of readings.
    /// </summary>
    private static async Task<(long Peak, int Samples)> SampleAsync(string statusPath, Action<long> sampled, CancellationToken exited)
    {
        long peak = 0;
        var samples = 0;
        using var timer = new PeriodicTimer(SampleInterval);
        do
        {
            if (ReadHighWaterMark(statusPath) is not { } hwm)
            {
                break; // gone, or a zombie without an address space: nothing more to read
            }

            peak = Math.Max(peak, hwm);
            samples++;
            sampled(peak);
        }
        while (await NextTickAsync(timer, exited));

        return (peak, samples);
    }

    private static async Task<bool> NextTickAsync(PeriodicTimer timer, CancellationToken exited)
    {
        try
        {
            return await timer.WaitForNextTickAsync(exited);
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    /// <summary>VmHWM in bytes, or null when the file is gone or has no VmHWM line (a zombie, a kernel thread).</summary>
    private static long? ReadHighWaterMark(string statusPath)
    {
        string[] lines;
        try
        {
            lines = File.ReadAllLines(statusPath);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }

        foreach (var line in lines)
        {
            // "VmHWM:\t   51234 kB"
            if (line.StartsWith("VmHWM:", StringComparison.Ordinal))
            {
                var number = line["VmHWM:".Length..].Trim().Split(' ')[0];
                return long.Parse(number, NumberStyles.None, CultureInfo.InvariantCulture) * 1024;
            }
        }

        return null;
    }

    private static async Task<string> ReadCappedAsync(StreamReader reader)
    {
        var kept = new StringBuilder();
        var buffer = new char[16 * 1024];
        int read;
        while ((read = await reader.ReadAsync(buffer)) > 0)
        {
            var room = OutputCap - kept.Length;
            if (room > 0)
            {
                kept.Append(buffer, 0, Math.Min(room, read));
            }
        }

        return kept.ToString();
    }
}
