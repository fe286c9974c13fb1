using System.Text;
using MailKit;

namespace MailSync.Engine.Tests;

/// <summary>
/// A source that serves bare LFs (IMAP servers should not, some do): the bytes are appended as
/// served, and a target that refuses them is named with a reason that says why.
/// </summary>
public sealed class AppendedAsServedTests
{
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Bare_LF_is_appended_as_served_and_a_refusal_says_so(bool targetRefuses)
    {
        var faults = new Faults();
        var source = new InMemoryServer("source", faults);
        var target = new InMemoryServer("target", faults) { RefuseBareLineFeeds = targetRefuses };
        var bareLf = Encoding.ASCII.GetBytes("Message-ID: <lf@test>\nSubject: LF only\n\nbody\n");
        var crlf = Encoding.ASCII.GetBytes("Message-ID: <crlf@test>\r\nSubject: CRLF\r\n\r\nbody\r\n");
        source.Folders["INBOX"].Append(bareLf, MessageFlags.Seen, [], new DateTimeOffset(2023, 1, 1, 0, 0, 0, TimeSpan.Zero));
        source.Folders["INBOX"].Append(crlf, MessageFlags.None, [], new DateTimeOffset(2023, 1, 2, 0, 0, 0, TimeSpan.Zero));

        using var ledger = new EngineRun.TempLedger();
        var result = await EngineRun.RunAsync(source, target, ledger.Path);

        var copies = target.Folders["INBOX"].Messages.Select(m => m.Bytes).ToList();
        if (targetRefuses)
        {
            Assert.Equal([crlf], copies);
            var failure = Assert.Single(result.Failures);
            Assert.Equal("lf@test", failure.MessageId);
            Assert.Contains("Message contains bare newlines", failure.Reason, StringComparison.Ordinal);
            Assert.Contains("bare LF", failure.Reason, StringComparison.Ordinal);
        }
        else
        {
            Assert.Equal([bareLf, crlf], copies);
            Assert.Empty(result.Failures);
        }
    }
}
