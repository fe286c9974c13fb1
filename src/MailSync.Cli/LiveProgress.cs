using System.Collections.Concurrent;
using MailSync.Core.Jobs;
using Spectre.Console;

namespace MailSync.Cli;

/// <summary>One progress row per job, counted in bytes so speed and ETA mean something; the label shows folder and messages.</summary>
internal sealed class LiveProgress(ProgressContext context) : IMigrationObserver
{
    private readonly ConcurrentDictionary<string, Row> _rows = new();

    public void FolderStarted(string job, string sourceFolder, string targetFolder, int messagesToCopy, long bytesToCopy)
    {
        var row = _rows.GetOrAdd(job, j => new Row(context.AddTask(j, maxValue: 1)));
        row.MessagesTotal += messagesToCopy;
        row.BytesTotal += bytesToCopy;
        row.Task.MaxValue = Math.Max(1, row.BytesTotal);
        row.Folder = sourceFolder;
        Describe(job, row);
    }

    public void MessagesCopied(string job, int messages, long bytes)
    {
        if (!_rows.TryGetValue(job, out var row))
            return;
        row.MessagesDone += messages;
        row.Task.Increment(bytes);
        Describe(job, row);
    }

    public void FolderFinished(string job, FolderResult result)
    {
    }

    private static void Describe(string job, Row row)
        => row.Task.Description = Markup.Escape(MailSync.Core.Stores.ServerText.Escape($"{job}: {row.Folder}  {row.MessagesDone}/{row.MessagesTotal} msgs")!);

    private sealed class Row(ProgressTask task)
    {
        public ProgressTask Task { get; } = task;
        public int MessagesTotal { get; set; }
        public int MessagesDone { get; set; }
        public long BytesTotal { get; set; }
        public string Folder { get; set; } = string.Empty;
    }
}
