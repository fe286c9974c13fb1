namespace MailSync.Core.Sync;

/// <summary>
/// Runs a job's folder work on several connection pairs at once (MailKit's clients run one command
/// at a time, so parallelism means more connections; DESIGN.md §3): worker 0 uses the job's own
/// connections, the others open theirs as they start (into a list disposed at the end); a worker
/// that cannot open its pair is simply not there. A failure that stops the job stops every worker,
/// and the one reported is that failure, not a sibling's cancellation because of it.
/// </summary>
internal static class ConnectionWorkers
{
    /// <param name="open">Worker <c>index</c>'s state (0: the job's own connections), its connections added to the list; null when it could not open them.</param>
    /// <param name="drain">Runs one worker until the shared work is done.</param>
    public static async Task RunAsync<TWorker>(
        int count, Func<int, List<IAsyncDisposable>, CancellationToken, Task<TWorker?>> open, Func<TWorker, CancellationToken, Task> drain,
        CancellationToken cancellationToken)
        where TWorker : class
    {
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var opened = new List<IAsyncDisposable>();
        var tasks = new List<Task>();
        for (var i = 0; i < count; i++)
        {
            var index = i;
            tasks.Add(Task.Run(async () =>
            {
                try
                {
                    if (await open(index, opened, stop.Token).ConfigureAwait(false) is { } worker)
                        await drain(worker, stop.Token).ConfigureAwait(false);
                }
                catch
                {
                    await stop.CancelAsync().ConfigureAwait(false);
                    throw;
                }
            }, CancellationToken.None));
        }

        try
        {
            await Task.WhenAll(tasks).ConfigureAwait(false);
        }
        catch
        {
            var failures = tasks.Where(t => t.IsFaulted).SelectMany(t => t.Exception!.InnerExceptions).ToList();
            var cause = failures.FirstOrDefault(e => e is not OperationCanceledException) ?? failures.FirstOrDefault();
            cancellationToken.ThrowIfCancellationRequested();
            if (cause is not null)
                System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(cause);
            throw;
        }
        finally
        {
            foreach (var connection in opened)
                await connection.DisposeAsync().ConfigureAwait(false);
        }
    }
}
