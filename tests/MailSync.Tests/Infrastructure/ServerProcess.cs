using System.Diagnostics;

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
