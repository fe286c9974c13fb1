using System.Diagnostics;
using MailSync.Core.Jobs;
using Serilog;

namespace MailSync.Cli;

/// <summary>Progress for a non-interactive run (cron, CI, a pipe): a log line per folder and at most one every few seconds.</summary>
internal sealed class LoggedProgress(ILogger log) : IMigrationObserver
{
    private static readonly TimeSpan Interval = TimeSpan.FromSeconds(5);
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private TimeSpan _lastLine;
    private int _messagesTotal;
    private int _messagesDone;
    private long _bytesTotal;
    private long _bytesDone;

    public void FolderStarted(string job, string sourceFolder, string targetFolder, int messagesToCopy, long bytesToCopy)
    {
        _messagesTotal += messagesToCopy;
        _bytesTotal += bytesToCopy;
    }

    public void MessagesCopied(string job, int messages, long bytes)
    {
        _messagesDone += messages;
        _bytesDone += bytes;
        if (_clock.Elapsed - _lastLine < Interval)
            return;
        _lastLine = _clock.Elapsed;
        var rate = _bytesDone / Math.Max(1, _clock.Elapsed.TotalSeconds);
        var eta = rate > 0 ? TimeSpan.FromSeconds((_bytesTotal - _bytesDone) / rate) : TimeSpan.Zero;
        log.Information("{Job}: {Done}/{Total} messages, {DoneMB:F1}/{TotalMB:F1} MB, {Rate:F1} MB/s, ETA {Eta:hh\\:mm\\:ss}",
            job, _messagesDone, _messagesTotal, _bytesDone / 1e6, _bytesTotal / 1e6, rate / 1e6, eta);
    }

    public void FolderFinished(string job, FolderResult result)
    {
        // A retry pass skips most folders unopened: one debug line each, not a row of zeros.
        if (result.NothingToRetry)
        {
            log.Debug("{Job}: {Source} -> {Target}: no earlier failure to retry", job, result.SourceFolder, result.TargetFolder);
            return;
        }

        log.Information("{Job}: {Source} -> {Target}: {Copied} copied, {Already} already there, {Failed} failed{Unchanged}",
            job, result.SourceFolder, result.TargetFolder, result.Copied, result.AlreadyCopied, result.Failed, result.Unchanged ? " (unchanged)" : string.Empty);
    }
}
