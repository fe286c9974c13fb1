namespace MailSync.Core.Checkpoints;

/// <summary>
/// An exclusive lock on a job, held as an OS file lock beside the ledger so that a killed process
/// releases it by itself; a second run of the same job refuses instead of racing the first.
/// </summary>
public sealed class JobLock : IDisposable
{
    private readonly FileStream _stream;

    private JobLock(FileStream stream, string path)
    {
        _stream = stream;
        Path = path;
    }

    public string Path { get; }

    public static JobLock Acquire(string ledgerPath, string job)
    {
        var path = $"{ledgerPath}.{job}.lock";
        try
        {
            // FileShare.None is an flock() on Unix: exclusive across processes, dropped on exit.
            var stream = new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
            stream.SetLength(0);
            using (var writer = new StreamWriter(stream, leaveOpen: true))
                writer.Write($"{Environment.ProcessId}\n");
            stream.Flush();
            return new JobLock(stream, path);
        }
        catch (IOException ex)
        {
            throw new LedgerException($"job \"{job}\" is already running (lock {path} is held by another process)", ex);
        }
    }

    public void Dispose() => _stream.Dispose();
}
