using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace MailSync.Tests.Infrastructure;

/// <summary>What every private test server (Dovecot, Cyrus, Courier) does the same way with its process and temp folder.</summary>
internal static class ServerProcess
{
    /// <summary>
    /// Asks <paramref name="process"/> to stop with <paramref name="ask"/> (a signal to exactly
    /// that process, or closing its stdin), waits up to <paramref name="grace"/>, and only if it
    /// hangs kills the process tree the tests started. Disposes the process.
    /// </summary>
    public static async Task StopAsync(Process process, Action ask, TimeSpan grace)
    {
        using (process)
        {
            if (process.HasExited)
                return;
            ask();
            using var timeout = new CancellationTokenSource(grace);
            try
            {
                await process.WaitForExitAsync(timeout.Token);
            }
            catch (OperationCanceledException)
            {
                process.Kill(entireProcessTree: true);
                await process.WaitForExitAsync();
            }
        }
    }

    /// <summary>
    /// Waits until <paramref name="port"/> on 127.0.0.1 greets with "* OK", while
    /// <paramref name="process"/> runs. Throws what <paramref name="startFailure"/> makes of the
    /// problem when the process exits or <paramref name="timeout"/> passes.
    /// </summary>
    public static async Task WaitForGreetingAsync(
        Process process, string processName, int port, TimeSpan timeout, Func<string, Exception> startFailure, CancellationToken ct)
    {
        var deadline = DateTime.UtcNow + timeout;
        var lastProblem = "no attempt yet";
        while (DateTime.UtcNow < deadline)
        {
            ct.ThrowIfCancellationRequested();
            if (process.HasExited)
                throw startFailure($"{processName} exited with code {process.ExitCode} during startup.");

            try
            {
                using var tcp = new TcpClient();
                using var attempt = CancellationTokenSource.CreateLinkedTokenSource(ct);
                attempt.CancelAfter(TimeSpan.FromSeconds(5));
                await tcp.ConnectAsync(IPAddress.Loopback, port, attempt.Token);
                using var reader = new StreamReader(tcp.GetStream(), Encoding.ASCII);
                var greeting = await reader.ReadLineAsync(attempt.Token);
                if (greeting is not null && greeting.StartsWith("* OK", StringComparison.Ordinal))
                    return;

                // A server may close at once on a fatal config error: keep trying, its output says why.
                lastProblem = $"unexpected greeting '{greeting}'";
            }
            catch (Exception e) when (e is SocketException or IOException or OperationCanceledException && !ct.IsCancellationRequested)
            {
                lastProblem = e.Message;
            }

            await Task.Delay(50, ct);
        }

        throw startFailure($"IMAP port {port} did not answer '* OK' within {timeout.TotalSeconds:0} s ({lastProblem}).");
    }

    /// <summary>Deletes a server's temp folder; a leftover is harmless, failing a test over it is not.</summary>
    public static void TryDeleteDirectory(string path)
    {
        try
        {
            Directory.Delete(path, recursive: true);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
        }
    }
}
