using MailSync.Core.Resilience;
using MailSync.Core.Stores;
using MailSync.Tests.Support;
using Polly.CircuitBreaker;

namespace MailSync.Tests.Unit.Resilience;

public sealed class ServerCircuitsTests
{
    private static readonly CircuitSettings Quick = new() { FailuresToOpen = 2, BreakDuration = TimeSpan.FromSeconds(30) };

    private static StoreFailureException Refused() => new(new FailureClassification(FailureKind.Transient, "connection refused"));

    [Fact]
    public async Task Failures_seen_by_one_account_make_every_account_on_that_server_back_off()
    {
        var circuits = new ServerCircuits(new CapturedLog().Logger, Quick);
        var aliceConnects = 0;
        for (var i = 0; i < 2; i++)
        {
            await Assert.ThrowsAsync<StoreFailureException>(async () => await circuits.For("mail.example", 993).ExecuteAsync(_ =>
            {
                aliceConnects++;
                throw Refused();
            }, CancellationToken.None));
        }

        // Bob's account is on the same server: his attempt does not reach it.
        var bobConnects = 0;
        var broken = await Assert.ThrowsAsync<BrokenCircuitException>(async () => await circuits.For("MAIL.example", 993).ExecuteAsync(_ =>
        {
            bobConnects++;
            return ValueTask.CompletedTask;
        }, CancellationToken.None));

        Assert.Equal(2, aliceConnects);
        Assert.Equal(0, bobConnects);
        Assert.True(RetryPipelines.IsRetryable(broken));
        Assert.NotNull(RetryPipelines.SuggestedDelay(broken));
        Assert.InRange(RetryPipelines.SuggestedDelay(broken)!.Value, TimeSpan.FromSeconds(1), Quick.BreakDuration);

        // Another server is not affected.
        var other = 0;
        await circuits.For("mail.example", 143).ExecuteAsync(_ =>
        {
            other++;
            return ValueTask.CompletedTask;
        }, CancellationToken.None);
        Assert.Equal(1, other);
    }

    [Fact]
    public async Task A_wrong_password_says_nothing_about_the_server_and_never_opens_its_circuit()
    {
        var circuits = new ServerCircuits(new CapturedLog().Logger, Quick);
        for (var i = 0; i < 5; i++)
        {
            await Assert.ThrowsAsync<StoreFailureException>(async () => await circuits.For("mail.example", 993).ExecuteAsync(
                _ => throw new StoreFailureException(new FailureClassification(FailureKind.Account, "authentication failed")), CancellationToken.None));
        }

        var reached = false;
        await circuits.For("mail.example", 993).ExecuteAsync(_ =>
        {
            reached = true;
            return ValueTask.CompletedTask;
        }, CancellationToken.None);
        Assert.True(reached);
    }
}
