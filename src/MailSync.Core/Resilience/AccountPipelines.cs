using Polly;
using Serilog;

namespace MailSync.Core.Resilience;

/// <summary>
/// The named retry pipelines of one account, built once per run and shared by its jobs. Each
/// retries only transient failures (<see cref="RetryPipelines"/>); what a retry does first is
/// up to the caller (<c>StoreRetry</c>): reconnect and re-select, and for an APPEND reconcile
/// against the target before sending anything again.
/// </summary>
public sealed class AccountPipelines
{
    public AccountPipelines(string account, int attempts, TimeSpan firstDelay, ResiliencePipeline circuit, ILogger log)
    {
        Account = account;
        Circuit = circuit;
        Connect = RetryPipelines.Build("connect", account, attempts, firstDelay, log);
        Read = RetryPipelines.Build("read", account, attempts, firstDelay, log);
        AppendWithReconcile = RetryPipelines.Build("append-with-reconcile", account, attempts, firstDelay, log);
        Store = RetryPipelines.Build("store", account, attempts, firstDelay, log);
    }

    public string Account { get; }

    /// <summary>The server's circuit breaker; every (re)connection goes through it.</summary>
    public ResiliencePipeline Circuit { get; }

    /// <summary>Connect and log in.</summary>
    public ResiliencePipeline Connect { get; }

    /// <summary>Source reads: list, select, fetch summaries and bodies.</summary>
    public ResiliencePipeline Read { get; }

    /// <summary>APPEND, where every retry first reconciles the batch's intents against the target.</summary>
    public ResiliencePipeline AppendWithReconcile { get; }

    /// <summary>Target commands other than APPEND: list, create, subscribe, select, reconcile reads.</summary>
    public ResiliencePipeline Store { get; }
}
