using System.Diagnostics;

namespace MailSync.Tests.Infrastructure;

/// <summary>
/// doveadm against a test server, for what IMAP cannot do: store a message with NUL bytes,
/// or change a mailbox's UIDVALIDITY as a server migration would.
/// </summary>
public static class DoveadmExtensions
{
    public static async Task<string> DoveadmAsync(this DovecotServer server, byte[]? stdin, params string[] args)
    {
        var doveadm = File.Exists("/usr/bin/doveadm") ? "/usr/bin/doveadm" : "doveadm";
        var info = new ProcessStartInfo(doveadm)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        info.ArgumentList.Add("-c");
        info.ArgumentList.Add(server.ConfigPath);
        foreach (var arg in args)
            info.ArgumentList.Add(arg);
        using var process = Process.Start(info) ?? throw new InvalidOperationException("doveadm did not start");
        if (stdin is not null)
            await process.StandardInput.BaseStream.WriteAsync(stdin);
        process.StandardInput.Close();
        var output = await process.StandardOutput.ReadToEndAsync();
        var error = await process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        if (process.ExitCode != 0)
            throw new InvalidOperationException($"doveadm {string.Join(' ', args)} failed ({process.ExitCode}): {error}");
        return output;
    }
}
