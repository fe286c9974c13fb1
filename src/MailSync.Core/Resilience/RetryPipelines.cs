using Polly;
using Polly.CircuitBreaker;
using Polly.Retry;
using MailSync.Core.Stores;
using Serilog;

namespace MailSync.Core.Resilience;

/// <summary>
/// How every retry pipeline decides: only a transient failure (DESIGN.md §4) is retried, with
/// jittered exponential backoff, and a wait the server asked for replaces the computed one. A
/// failure whose wait is longer than <see cref="MaxDelay"/> (Gmail's bandwidth limit) is not
/// retried at all: the account is parked and the job says "run again later" instead of spinning.
/// </summary>
public static class RetryPipelines
{
    /// <summary>Longest wait between two attempts; a server asking for more is answered "run again later".</summary>
    public static readonly TimeSpan MaxDelay = TimeSpan.FromMinutes(5);

    /// <summary>Whether waiting and trying again can help.</summary>
    public static bool IsRetryable(Exception exception) => exception switch
    {
        StoreFailureException { GaveUp: true } => false,
        StoreFailureException { Kind: FailureKind.Transient } failure => WithinMaxDelay(failure.Classification.SuggestedDelay),
        ServerBusyException busy => WithinMaxDelay(busy.SuggestedDelay),
        BrokenCircuitException => true,
        _ => false,
    };

    /// <summary>The wait the server (or the open circuit) asked for, if any.</summary>
    public static TimeSpan? SuggestedDelay(Exception? exception) => exception switch
    {
        StoreFailureException failure => failure.Classification.SuggestedDelay,
        ServerBusyException busy => busy.SuggestedDelay,
        BrokenCircuitException broken => broken.RetryAfter,
        _ => null,
    };

    /// <summary>
    /// A named retry pipeline. <paramref name="attempts"/> retries after the first try (0: none),
    /// the first after about <paramref name="firstDelay"/>, then doubling, with jitter so that many
    /// accounts on one server do not come back in step.
    /// </summary>
    public static ResiliencePipeline Build(string name, string what, int attempts, TimeSpan firstDelay, ILogger log)
    {
        if (attempts <= 0)
            return ResiliencePipeline.Empty;
        return new ResiliencePipelineBuilder { Name = name }
            .AddRetry(new RetryStrategyOptions
            {
                Name = $"{name} {what}",
                ShouldHandle = args => ValueTask.FromResult(args.Outcome.Exception is { } ex && IsRetryable(ex)),
                MaxRetryAttempts = attempts,
                Delay = firstDelay,
                MaxDelay = MaxDelay,
                BackoffType = DelayBackoffType.Exponential,
                UseJitter = true,
                DelayGenerator = args => ValueTask.FromResult(SuggestedDelay(args.Outcome.Exception)),
                OnRetry = args =>
                {
                    log.Warning("{What}: {Pipeline}: {Reason}; attempt {Attempt} of {Attempts} in {Delay:0.#} s",
                        what, name, args.Outcome.Exception?.Message, args.AttemptNumber + 2, attempts + 1, args.RetryDelay.TotalSeconds);
                    return ValueTask.CompletedTask;
                },
            })
            .Build();
    }

    private static bool WithinMaxDelay(TimeSpan? delay) => delay is null || delay <= MaxDelay;
}
