using System.Collections.Concurrent;
using Polly;
using Polly.CircuitBreaker;
using Serilog;

namespace MailSync.Core.Resilience;

/// <summary>
/// One circuit breaker per server (host and port), shared by every account of a run. When a
/// server keeps refusing connections, the first accounts to notice open its circuit and the others
/// wait out the break instead of each hammering it through their own retries; a connection that
/// works closes it again.
/// </summary>
public sealed class ServerCircuits(ILogger log, CircuitSettings? settings = null)
{
    private readonly ConcurrentDictionary<string, ResiliencePipeline> _circuits = new(StringComparer.OrdinalIgnoreCase);
    private readonly CircuitSettings _settings = settings ?? new CircuitSettings();

    /// <summary>The breaker that every connection attempt to <paramref name="host"/>:<paramref name="port"/> goes through.</summary>
    public ResiliencePipeline For(string host, int port)
        => _circuits.GetOrAdd($"{host}:{port}", server => new ResiliencePipelineBuilder { Name = $"circuit {server}" }
            .AddCircuitBreaker(new CircuitBreakerStrategyOptions
            {
                Name = $"circuit {server}",
                // Only failures that say "this server is not answering" count: a wrong password
                // for one account says nothing about the others.
                ShouldHandle = args => ValueTask.FromResult(args.Outcome.Exception is { } ex and not BrokenCircuitException
                    && RetryPipelines.IsRetryable(ex)),
                FailureRatio = 1.0,
                MinimumThroughput = _settings.FailuresToOpen,
                SamplingDuration = _settings.SamplingDuration,
                BreakDuration = _settings.BreakDuration,
                OnOpened = args =>
                {
                    log.Warning("{Server}: {Failures} connection attempts in a row failed; every account waits {Break:0} s before trying it again",
                        server, _settings.FailuresToOpen, args.BreakDuration.TotalSeconds);
                    return ValueTask.CompletedTask;
                },
                OnClosed = _ =>
                {
                    log.Information("{Server}: answering again", server);
                    return ValueTask.CompletedTask;
                },
            })
            .Build());
}
