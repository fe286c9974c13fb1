using Polly;
using Polly.Retry;
using MailSync.Core.Stores;
using Serilog;

namespace MailSync.Core.Resilience;

/// <summary>
/// The retry pipelines, built once per account. Only <see cref="ServerBusyException"/> is retried
/// here: the server said "later" (mailbox in use, login delay, temporary trouble). A wrong
/// password or a refused certificate is not retried, since waiting cannot fix it.
/// </summary>
public static class RetryPipelines
{
    /// <summary>Longest wait between two attempts; a server asking for more is answered "run again later".</summary>
    public static readonly TimeSpan MaxDelay = TimeSpan.FromMinutes(5);

    /// <summary>Connect and log in: jittered exponential backoff, honouring a server's suggested wait.</summary>
    public static ResiliencePipeline Login(string what, int attempts, TimeSpan firstDelay, ILogger log)
    {
        if (attempts <= 0)
            return ResiliencePipeline.Empty;
        return new ResiliencePipelineBuilder { Name = "login" }
            .AddRetry(new RetryStrategyOptions
            {
                Name = $"login {what}",
                ShouldHandle = new PredicateBuilder().Handle<ServerBusyException>(ex => ex.SuggestedDelay is null || ex.SuggestedDelay <= MaxDelay),
                MaxRetryAttempts = attempts,
                Delay = firstDelay,
                MaxDelay = MaxDelay,
                BackoffType = DelayBackoffType.Exponential,
                UseJitter = true,
                DelayGenerator = args => ValueTask.FromResult(
                    args.Outcome.Exception is ServerBusyException { SuggestedDelay: { } suggested } ? suggested : (TimeSpan?)null),
                OnRetry = args =>
                {
                    log.Warning("{What}: {Reason}; attempt {Attempt} of {Attempts} in {Delay:0.#} s",
                        what, args.Outcome.Exception?.Message, args.AttemptNumber + 2, attempts + 1, args.RetryDelay.TotalSeconds);
                    return ValueTask.CompletedTask;
                },
            })
            .Build();
    }
}
