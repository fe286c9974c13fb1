using MailSync.Core.Config;
using MailSync.Core.Jobs;
using MailSync.Core.Sync;
using Serilog;
using Serilog.Events;
using Spectre.Console;

namespace MailSync.Cli;

/// <summary><c>mailsync run</c>: load and check the job file, run the jobs with a live display, summarise, report.</summary>
internal sealed class RunCommand(RunArguments args)
{
    /// <summary>Wider than any line the run prints, so none is broken.</summary>
    private const int UnwrappedWidth = 10_000;

    public async Task<int> ExecuteAsync(CancellationToken cancellationToken)
    {
        var console = AnsiConsole.Console;
        // Piped or redirected output goes to scripts and log files, which need each error on one
        // line; Spectre would break lines at 80 columns there. A terminal keeps its own width.
        if (Console.IsOutputRedirected)
            console.Profile.Width = UnwrappedWidth;
        var load = ConfigLoader.Load(args.JobFile.FullName);
        if (!load.IsValid)
            return ConfigErrors(console, args.JobFile.FullName, load.Errors);
        var config = load.Config!;

        var unknown = args.Jobs.Where(name => !config.Jobs.Any(j => string.Equals(j.Name, name, StringComparison.OrdinalIgnoreCase))).ToList();
        if (unknown.Count > 0)
            return ConfigErrors(console, args.JobFile.FullName, unknown.Select(n => new ConfigError("--job", $"no job named \"{n}\" in the file")).ToList());
        var jobs = args.Jobs.Count == 0
            ? config.Jobs
            : config.Jobs.Where(j => args.Jobs.Contains(j.Name, StringComparer.OrdinalIgnoreCase)).ToList();

        var secretErrors = ConfigLoader.CheckSecrets(config, jobs);
        if (secretErrors.Count > 0)
            return ConfigErrors(console, args.JobFile.FullName, secretErrors);

        var statePath = args.State?.FullName ?? Path.ChangeExtension(args.JobFile.FullName, ".state.db");
        var interactive = console.Profile.Capabilities.Interactive && !Console.IsOutputRedirected;
        using var log = CreateLogger(interactive);
        log.Information("mailsync run {JobFile}: {Count} job(s), state {State}{RetryFailed}{DryRun}", args.JobFile.FullName, jobs.Count, statePath,
            args.RetryFailed ? " (retrying failed messages only)" : string.Empty, args.DryRun ? " (dry run)" : string.Empty);

        var options = new MigrationOptions
        {
            DryRun = args.DryRun,
            RetryFailed = args.RetryFailed,
            AllowDeletions = args.AllowDeletions.ToHashSet(StringComparer.Ordinal),
        };
        IReadOnlyList<JobResult> results;
        if (interactive)
        {
            results = await console.Progress()
                .AutoClear(false)
                .Columns(new TaskDescriptionColumn { Alignment = Justify.Left }, new ProgressBarColumn(), new PercentageColumn(), new DownloadedColumn(), new TransferSpeedColumn(), new RemainingTimeColumn())
                .StartAsync(ctx => new JobRunner(log, new LiveProgress(ctx)).RunAsync(config, jobs, statePath, options, cancellationToken))
                .ConfigureAwait(false);
        }
        else
        {
            var progress = new LoggedProgress(log);
            results = await new JobRunner(log, progress).RunAsync(config, jobs, statePath, options, cancellationToken).ConfigureAwait(false);
        }

        var exitCode = ExitCodes.From(results);
        Summary.Write(console, results);
        if (args.Report is not null)
        {
            await ReportWriter.WriteAsync(args.Report.FullName, args.JobFile.FullName, exitCode, results, CancellationToken.None).ConfigureAwait(false);
            console.MarkupLineInterpolated($"Report written to [bold]{args.Report.FullName}[/]");
        }

        log.Information("mailsync run finished with exit code {ExitCode}", exitCode);
        return exitCode;
    }

    private static int ConfigErrors(IAnsiConsole console, string file, IReadOnlyList<ConfigError> errors)
    {
        console.MarkupLineInterpolated($"[red]{file}: {errors.Count} problem(s):[/]");
        foreach (var error in errors)
            console.WriteLine($"  {error}");
        return ExitCodes.ConfigError;
    }

    private Serilog.Core.Logger CreateLogger(bool interactive)
    {
        var logPath = args.LogFile?.FullName ?? Path.Combine(args.JobFile.DirectoryName ?? ".", "logs", "mailsync-.log");
        // While the live display owns the terminal only warnings go to the console; the file has everything.
        var consoleLevel = args.Verbose ? LogEventLevel.Debug : interactive ? LogEventLevel.Warning : LogEventLevel.Information;
        // Server text is escaped in both (SafeLogText): the console gets no colours of Serilog's own,
        // so nothing in its output is a terminal escape.
        return new LoggerConfiguration()
            .MinimumLevel.Debug()
            .Enrich.With(new SafeLogText())
            .WriteTo.Console(SafeLogText.Formatter("[{Timestamp:HH:mm:ss} {Level:u3}] {Message:lj}{NewLine}{Exception}"),
                restrictedToMinimumLevel: consoleLevel, standardErrorFromLevel: LogEventLevel.Warning)
            .WriteTo.File(SafeLogText.Formatter("{Timestamp:yyyy-MM-dd HH:mm:ss.fff zzz} [{Level:u3}] {Message:lj}{NewLine}{Exception}"),
                logPath, rollingInterval: RollingInterval.Day, restrictedToMinimumLevel: LogEventLevel.Debug)
            .CreateLogger();
    }
}
