using System.Diagnostics;
using MailSync.Core.Resilience;
using MailSync.Core.Stores;
using MailSync.Tests.Support;
using Polly.CircuitBreaker;

namespace MailSync.Tests.Unit.Resilience;

public sealed class RetryPipelinesTests
{
    private static StoreFailureException Failure(FailureKind kind, TimeSpan? delay = null, bool park = false)
        => new(new FailureClassification(kind, $"{kind} for the test", delay, park));

    [Fact]
    public void Only_transient_failures_within_the_longest_wait_are_retried()
    {
        Assert.True(RetryPipelines.IsRetryable(Failure(FailureKind.Transient)));
        Assert.True(RetryPipelines.IsRetryable(Failure(FailureKind.Transient, TimeSpan.FromSeconds(60), park: true)));
        Assert.True(RetryPipelines.IsRetryable(new ServerBusyException("in use")));
        Assert.True(RetryPipelines.IsRetryable(new BrokenCircuitException()));

        Assert.False(RetryPipelines.IsRetryable(Failure(FailureKind.Message)));
        Assert.False(RetryPipelines.IsRetryable(Failure(FailureKind.Folder)));
        Assert.False(RetryPipelines.IsRetryable(Failure(FailureKind.Account)));
        // Gmail's bandwidth limit: an hour; the account is parked instead of spinning.
        Assert.False(RetryPipelines.IsRetryable(Failure(FailureKind.Transient, FailureClassifier.BandwidthParkDelay, park: true)));
        Assert.False(RetryPipelines.IsRetryable(new ServerBusyException("login delay", TimeSpan.FromMinutes(30))));
        Assert.False(RetryPipelines.IsRetryable(new StoreFailureException(new FailureClassification(FailureKind.Transient, "spent")) { GaveUp = true }));
        Assert.False(RetryPipelines.IsRetryable(new IOException("raw exceptions are classified by the stores first")));
    }

    [Fact]
    public async Task The_servers_suggested_wait_replaces_the_computed_backoff()
    {
        var log = new CapturedLog();
        // A first delay of 30 s would time the test out: only the server's 200 ms may be used.
        var pipeline = RetryPipelines.Build("read", "test", attempts: 2, firstDelay: TimeSpan.FromSeconds(30), log.Logger);
        var throttled = FailureClassifier.ClassifyServerText("A7 NO Request is throttled. Suggested Backoff Time: 200 milliseconds");
        Assert.Equal(TimeSpan.FromMilliseconds(200), throttled.SuggestedDelay);
        var calls = 0;
        var clock = Stopwatch.StartNew();

        await pipeline.ExecuteAsync(_ =>
        {
            if (++calls == 1)
                throw new StoreFailureException(throttled);
            return ValueTask.CompletedTask;
        }, CancellationToken.None);

        Assert.Equal(2, calls);
        Assert.InRange(clock.Elapsed, TimeSpan.FromMilliseconds(150), TimeSpan.FromSeconds(10));
        Assert.Contains(log.Messages, m => m.Contains("attempt 2 of 3 in 0.2 s", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Retries_stop_after_the_configured_attempts_and_the_last_failure_surfaces()
    {
        var pipeline = RetryPipelines.Build("read", "test", attempts: 3, firstDelay: TimeSpan.FromMilliseconds(1), new CapturedLog().Logger);
        var calls = 0;

        var thrown = await Assert.ThrowsAsync<StoreFailureException>(async () => await pipeline.ExecuteAsync(_ =>
        {
            calls++;
            throw Failure(FailureKind.Transient);
        }, CancellationToken.None));

        Assert.Equal(4, calls);
        Assert.Equal(FailureKind.Transient, thrown.Kind);
    }

    [Fact]
    public async Task A_non_transient_failure_is_never_retried()
    {
        var pipeline = RetryPipelines.Build("store", "test", attempts: 5, firstDelay: TimeSpan.FromMilliseconds(1), new CapturedLog().Logger);
        var calls = 0;

        await Assert.ThrowsAsync<StoreFailureException>(async () => await pipeline.ExecuteAsync(_ =>
        {
            calls++;
            throw Failure(FailureKind.Account);
        }, CancellationToken.None));

        Assert.Equal(1, calls);
    }
}
