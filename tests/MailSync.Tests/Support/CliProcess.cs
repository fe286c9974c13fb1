using System.Diagnostics;

namespace MailSync.Tests.Support;

/// <summary>The built mailsync command (copied beside the tests by the project reference), run as a child process.</summary>
public static class CliProcess
{
    /// <summary>Starts mailsync with redirected output; the caller must drain both streams.</summary>
    public static Process Start(params string[] args)
    {
        var dll = Path.Combine(AppContext.BaseDirectory, "mailsync.dll");
        Assert.True(File.Exists(dll), $"the CLI was not built beside the tests: {dll}");
        var info = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        info.ArgumentList.Add(dll);
        foreach (var arg in args)
            info.ArgumentList.Add(arg);
        // Wide enough that the summary table does not wrap the texts the tests look for.
        info.Environment["COLUMNS"] = "200";
        return Process.Start(info)!;
    }

    /// <summary>Runs mailsync to the end; returns its exit code and everything it printed.</summary>
    public static async Task<(int Code, string Output)> RunAsync(params string[] args)
    {
        using var process = Start(args);
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        return (process.ExitCode, await stdout + await stderr);
    }
}
