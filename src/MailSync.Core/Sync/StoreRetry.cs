using MailSync.Core.Jobs;
using MailSync.Core.Resilience;
using MailSync.Core.Stores;
using Polly;
using Polly.CircuitBreaker;
using Serilog;

namespace MailSync.Core.Sync;

/// <summary>
/// Runs store commands of one connection through a named pipeline. Every retry starts by
/// reconnecting (through the server's circuit breaker) when the failure dropped the connection,
/// which re-selects the folder that was open; the command itself learns it is a retry, so an
/// APPEND can reconcile before sending again. When the retries are spent, the failure is marked
/// <see cref="StoreFailureException.GaveUp"/> so no outer layer starts another round.
/// </summary>
internal sealed class StoreRetry(
    string what, Func<bool> isConnected, Func<CancellationToken, Task> reconnect, ResiliencePipeline circuit, JobResult result, ILogger log)
{
    public static StoreRetry For(IMailStore store, string what, AccountPipelines pipelines, JobResult result, ILogger log)
        => new(what, () => store.IsConnected, store.ReconnectAsync, pipelines.Circuit, result, log);

    public async Task<T> RunAsync<T>(ResiliencePipeline pipeline, string operation, Func<bool, CancellationToken, Task<T>> command, CancellationToken cancellationToken)
    {
        var attempts = 0;
        Exception? last = null;
        try
        {
            var value = await pipeline.ExecuteAsync(async token =>
            {
                var isRetry = attempts++ > 0;
                try
                {
                    if (!isConnected())
                        await circuit.ExecuteAsync(async t => await reconnect(t).ConfigureAwait(false), token).ConfigureAwait(false);
                    return await command(isRetry, token).ConfigureAwait(false);
                }
                catch (Exception ex) when (ex is not OperationCanceledException)
                {
                    last = ex;
                    throw;
                }
            }, cancellationToken).ConfigureAwait(false);

            if (attempts > 1)
            {
                var note = $"{what}: {operation}: recovered after {attempts - 1} {(attempts == 2 ? "retry" : "retries")} ({last?.Message})";
                log.Information("{Recovery}", note);
                lock (result)
                    result.Recoveries.Add(note);
            }

            return value;
        }
        catch (StoreFailureException ex) when (ex.Kind == FailureKind.Transient && !ex.GaveUp)
        {
            throw new StoreFailureException(ex.Classification with { Reason = $"{ex.Message} (gave up after {attempts} attempts)" }, ex) { GaveUp = true };
        }
        catch (BrokenCircuitException ex)
        {
            throw new StoreFailureException(
                new FailureClassification(FailureKind.Transient, $"{what}: the server is not answering and its circuit is open ({last?.Message}); gave up after {attempts} attempts", ex.RetryAfter),
                ex) { GaveUp = true };
        }
    }

    public Task RunAsync(ResiliencePipeline pipeline, string operation, Func<CancellationToken, Task> command, CancellationToken cancellationToken)
        => RunAsync(pipeline, operation, async (_, token) =>
        {
            await command(token).ConfigureAwait(false);
            return true;
        }, cancellationToken);

    public Task<T> RunAsync<T>(ResiliencePipeline pipeline, string operation, Func<CancellationToken, Task<T>> command, CancellationToken cancellationToken)
        => RunAsync(pipeline, operation, (_, token) => command(token), cancellationToken);
}
