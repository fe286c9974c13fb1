using System.Text;
using MailKit;
using MailSync.Core.Jobs;
using MailSync.Tests.Infrastructure;
using MailSync.Tests.Support;
using Xunit.Abstractions;

namespace MailSync.Tests.Integration;

/// <summary>
/// Issue 19: the CLI against a server that misbehaves on purpose (<see cref="HostileImapServer"/>
/// in front of a real Dovecot, one mode per row of the issue), as the source of a migrate job with
/// <c>timeoutSeconds</c> 5, and as its target where the misbehaviour can meet a target. Each test asserts the exit code,
/// the line printed, that the run ended within its deadline, and that the CLI's peak memory,
/// measured from outside the process (<see cref="CliRun"/>), stayed under 200 MB; then the server
/// behaves and a re-run converges: every source message on the target exactly once.
/// </summary>
[Collection(DovecotCollection.Name)]
public sealed class HostileServerTests(DovecotFixture fixture, ITestOutputHelper output)
{
    private const long PeakLimit = 200L * 1024 * 1024;

    /// <summary>Far above the limit, so a run that balloons is killed long before it hurts the machine.</summary>
    private const long Ceiling = 1024L * 1024 * 1024;

    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(60);

    // Few and quick retries: a misbehaviour that is retried must still end within seconds.
    private const string Account = ", \"timeoutSeconds\": 5, \"retryAttempts\": 1, \"retryDelaySeconds\": 1";

    private DovecotServer Server => fixture.Server;

    public static TheoryData<string, HostileMode, HostileOptions, int, string, double> Rows() => new()
    {
        // As the target (the job's written side).
        { "target: a response line that never ends, answering LIST", HostileMode.EndlessLine, new HostileOptions { TriggerVerb = "LIST" }, ExitCodes.ProtocolViolation,
            "response line longer than 16,777,216 bytes (maxResponseLineBytes)", 30 },
        { "target: an endless stream of untagged OK lines, answering APPEND", HostileMode.UntaggedFlood, new HostileOptions { TriggerVerb = "APPEND" }, ExitCodes.ProtocolViolation,
            "more than 10,000 untagged responses without data", 30 },
        { "target: 200,000 folders", HostileMode.ManyFolders, new HostileOptions(), ExitCodes.ProtocolViolation, "lists more than 20,000 folders (maxFolders", 30 },
        { "target: greets with BYE [UNAVAILABLE]", HostileMode.ByeGreeting, new HostileOptions(), ExitCodes.TemporaryFailure, "come back later", 30 },
        { "target: answers LOGIN with NO [UNAVAILABLE]", HostileMode.LoginUnavailable, new HostileOptions(), ExitCodes.TemporaryFailure, "asks to come back later", 30 },
        { "target: refuses one command in five at random", HostileMode.RandomRefusals, new HostileOptions(), ExitCodes.MessagesFailed, "refused without saying why", 30 },

        // As the source.
        { "a response line that never ends, answering LIST", HostileMode.EndlessLine, new HostileOptions { TriggerVerb = "LIST" }, ExitCodes.ProtocolViolation,
            "response line longer than 16,777,216 bytes (maxResponseLineBytes)", 30 },
        { "a response line that never ends, right after login", HostileMode.EndlessLine, new HostileOptions(), ExitCodes.ProtocolViolation,
            "response line longer than 16,777,216 bytes (maxResponseLineBytes)", 30 },
        { "an endless stream of untagged OK lines, answering LIST", HostileMode.UntaggedFlood, new HostileOptions { TriggerVerb = "LIST" }, ExitCodes.ProtocolViolation,
            "more than 10,000 untagged responses without data", 30 },
        { "an endless stream of untagged OK lines, answering EXAMINE (one folder)", HostileMode.UntaggedFlood, new HostileOptions { TriggerVerb = "EXAMINE" }, ExitCodes.ProtocolViolation,
            "more than 10,000 untagged responses without data", 30 },
        { "a literal announced as 2^31 bytes, which MailKit cannot parse", HostileMode.SlowHugeLiteral, new HostileOptions(), ExitCodes.ProtocolViolation,
            "breaks IMAP's syntax", 20 },
        { "a 2 GiB literal sent a byte every 100 ms", HostileMode.SlowHugeLiteral, new HostileOptions { HugeLiteralLength = int.MaxValue }, ExitCodes.TemporaryFailure,
            "the server moved only", 40 },
        { "unsolicited FETCH, EXISTS and FLAGS in the middle of commands", HostileMode.UnsolicitedFetch,
            new HostileOptions { Unsolicited = UnsolicitedKinds.Fetch | UnsolicitedKinds.Exists | UnsolicitedKinds.Flags }, ExitCodes.Success, "Succeeded", 20 },
        { "200,000 folders", HostileMode.ManyFolders, new HostileOptions(), ExitCodes.ProtocolViolation,
            "lists more than 20,000 folders (maxFolders", 30 },
        { "greets with BYE [UNAVAILABLE]", HostileMode.ByeGreeting, new HostileOptions(), ExitCodes.TemporaryFailure, "come back later", 30 },
        { "answers LOGIN with NO [UNAVAILABLE]", HostileMode.LoginUnavailable, new HostileOptions(), ExitCodes.TemporaryFailure, "asks to come back later", 30 },
        { "refuses one command in five at random", HostileMode.RandomRefusals, new HostileOptions(), ExitCodes.MessagesFailed,
            "refused without saying why", 30 },
        { "says a folder holds 4294967295 messages", HostileMode.HugeCounts, new HostileOptions(), ExitCodes.ProtocolViolation,
            "holds 4,294,967,295 messages, more than maxMessagesPerFolder", 20 },
    };

    [Theory]
    [MemberData(nameof(Rows))]
    public async Task A_misbehaving_server_ends_the_run_with_a_true_exit_code_in_bounded_time_and_memory_and_a_rerun_converges(
        string name, HostileMode mode, HostileOptions options, int exitCode, string printed, double seconds)
    {
        var asTarget = name.StartsWith("target:", StringComparison.Ordinal);
        var (source, target) = await SeededAsync($"h{(asTarget ? "t" : "s")}{(int)mode}");
        await using var hostile = HostileImapServer.Start(Server, mode, options);
        using var job = asTarget
            ? ImapJob.Create(Server.ImapPort, source, hostile.Port, target, Account)
            : ImapJob.Create(hostile.Port, source, Server.ImapPort, target, Account, ", \"timeoutSeconds\": 5");

        var run = await CliRun.RunAsync(Deadline, Ceiling, "run", job.Path, "--state", job.StatePath);
        output.WriteLine($"{name}: {run}");
        Assert.True(hostile.FiredCount > 0, $"{name}: the server never misbehaved");
        Assert.True(run.ExitCode == exitCode, $"{name}: exit {run.ExitCode}, expected {exitCode}:\n{run.Output}");
        Assert.Contains(printed, run.Output, StringComparison.Ordinal);
        Assert.True(run.WallTime < TimeSpan.FromSeconds(seconds), $"{name}: took {run.WallTime.TotalSeconds:0.0} s");
        Assert.True(run.PeakBytes is > 0 and < PeakLimit, $"{name}: peak {run.PeakMiB:0} MiB");
        AssertNoControlBytes(run.Output);

        // The server behaves again: the same job converges, nothing copied twice.
        hostile.Mode = HostileMode.None;
        var again = await CliRun.RunAsync(Deadline, Ceiling, "run", job.Path, "--state", job.StatePath);
        Assert.True(again.ExitCode == ExitCodes.Success, $"{name}, re-run: exit {again.ExitCode}:\n{again.Output}");
        var census = await Census.TakeAsync(Server, source, Server, target);
        Assert.True(census.ExactlyOnce, $"{name}: {census}");
    }

    /// <summary>
    /// Control bytes (NUL, ESC sequences, BEL, 8-bit CSI) in the greeting, in refusals and in a
    /// folder name reach neither the console nor the log file as they are: they are printed
    /// escaped; the folder with such a name is skipped by name (exit 3), the rest is copied.
    /// </summary>
    [Fact]
    public async Task Control_bytes_from_the_server_are_escaped_on_the_console_and_in_the_log_and_their_folder_is_skipped()
    {
        var (source, target) = await SeededAsync("hctl");
        await using var hostile = HostileImapServer.Start(Server, HostileMode.ControlBytes);
        using var job = ImapJob.Create(hostile.Port, source, Server.ImapPort, target, Account, ", \"timeoutSeconds\": 5");
        var log = Path.Combine(job.Directory, "run.log");

        var report = Path.Combine(job.Directory, "report.json");
        var run = await CliRun.RunAsync(Deadline, Ceiling, "run", job.Path, "--state", job.StatePath, "--log-file", log, "--report", report);
        output.WriteLine(run.ToString());
        Assert.True(run.ExitCode == ExitCodes.MessagesFailed, $"exit {run.ExitCode}:\n{run.Output}");
        Assert.Contains("is not carried: its name has control characters", run.Output, StringComparison.Ordinal);
        Assert.Contains("ctl\\x00\\x1B[31mred", run.Output, StringComparison.Ordinal);
        AssertNoControlBytes(run.Output);
        var logged = string.Concat(Directory.GetFiles(job.Directory, "run*.log").Select(File.ReadAllText));
        Assert.Contains("\\x1B", logged, StringComparison.Ordinal);
        // Escaping changes nothing else: names of our own print as before ("side B", not "side \"B\"").
        Assert.Contains("on side B", logged, StringComparison.Ordinal);
        AssertNoControlBytes(logged);
        // The report is JSON: what a server sent is escaped there too (\\x1B, or JSON's \\u escapes).
        var json = File.ReadAllText(report);
        Assert.Contains("is not carried", json, StringComparison.Ordinal);
        AssertNoControlBytes(json);
        Assert.True(run.PeakBytes is > 0 and < PeakLimit, $"peak {run.PeakMiB:0} MiB");
        var census = await Census.TakeAsync(Server, source, Server, target);
        Assert.True(census.ExactlyOnce, census.ToString());
    }

    /// <summary>
    /// Folder names that cannot be carried faithfully are skipped, each by name and reason (exit
    /// 3), and the rest of the account is copied; names that can (raw UTF-8 or Latin-1 bytes,
    /// broken modified UTF-7, a trailing delimiter) are copied, those MailKit had to read a name
    /// into reported as renamed. Nothing is created outside the target's own tree.
    /// </summary>
    [Theory]
    [InlineData(HostileName.ControlChars, ExitCodes.MessagesFailed, "its name has control characters")]
    [InlineData(HostileName.CrLf, ExitCodes.MessagesFailed, "its name has control characters")]
    [InlineData(HostileName.DotDot, ExitCodes.MessagesFailed, "\"..\" level")]
    [InlineData(HostileName.LeadingDelimiter, ExitCodes.MessagesFailed, "empty level")]
    [InlineData(HostileName.Deep, ExitCodes.MessagesFailed, "300 levels deep, more than 64")]
    [InlineData(HostileName.Utf8Bytes, ExitCodes.Success, "carried as \"Café-8bit\" (renamed)")]
    [InlineData(HostileName.Latin1Bytes, ExitCodes.Success, "carried as \"Café-latin1\" (renamed)")]
    [InlineData(HostileName.InvalidUtf7, ExitCodes.Success, "\"inv&AGE\" on the source is no proper IMAP name")]
    [InlineData(HostileName.TrailingDelimiter, ExitCodes.Success, "Succeeded")]
    public async Task A_folder_name_that_cannot_be_carried_is_skipped_by_name_and_the_rest_is_copied(HostileName bad, int exitCode, string printed)
    {
        var (source, target) = await SeededAsync($"hname{(int)bad}");
        await using var hostile = HostileImapServer.Start(Server, HostileMode.BadFolderName, new HostileOptions { BadName = bad, BadNameTarget = "Real" });
        using var job = ImapJob.Create(hostile.Port, source, Server.ImapPort, target, Account, ", \"timeoutSeconds\": 5");

        var run = await CliRun.RunAsync(Deadline, Ceiling, "run", job.Path, "--state", job.StatePath);
        output.WriteLine($"{bad}: {run}");
        Assert.True(run.ExitCode == exitCode, $"{bad}: exit {run.ExitCode}:\n{run.Output}");
        Assert.Contains(printed, run.Output, StringComparison.Ordinal);
        AssertNoControlBytes(run.Output);
        Assert.True(run.PeakBytes is > 0 and < PeakLimit, $"{bad}: peak {run.PeakMiB:0} MiB");
        var folders = await Mailbox.ReadAllAsync(Server, target);
        Assert.DoesNotContain(folders.Keys, f => f.Contains("..", StringComparison.Ordinal) || f.StartsWith('/') || f.Any(char.IsControl));
        Assert.Equal(5, folders["INBOX"].Messages.Count);
        Assert.Equal(3, folders["Real"].Messages.Count);
    }

    /// <summary>
    /// Another client expunges a message while the run fetches its body: the server reports the
    /// EXPUNGE in the middle of the relayed session's commands and serves no bytes for it (RFC 9051
    /// allows both). The run goes on: that message is reported by UID as not served (never appended
    /// empty), every other one is copied exactly once, and a re-run copies nothing twice. (The relay cannot make up an
    /// EXPUNGE, which renumbers messages, so Dovecot is made to send a real one.)
    /// </summary>
    [Fact]
    public async Task A_message_expunged_by_another_client_during_the_run_is_reported_and_the_rest_is_copied_once()
    {
        var (source, target) = await SeededAsync("hexp");
        var expunged = false;
        await using var hostile = HostileImapServer.Start(Server, HostileMode.None, new HostileOptions
        {
            BeforeBodyFetch = async () =>
            {
                // One connection pair, biggest folder first: this is INBOX's body fetch, which asks
                // for UID 5; it is gone when the server answers.
                await using var other = await RawImapSession.LoginAsync(Server.Host, Server.ImapPort, source.Name, source.Password);
                await other.CommandAsync("SELECT INBOX");
                await other.CommandAsync("UID STORE 5 +FLAGS.SILENT (\\Deleted)");
                await other.CommandAsync("UID EXPUNGE 5");
                expunged = true;
            },
        });
        using var job = ImapJob.Create(hostile.Port, source, Server.ImapPort, target, Account + ", \"maxConnections\": 1", ", \"timeoutSeconds\": 5");

        var run = await CliRun.RunAsync(Deadline, Ceiling, "run", job.Path, "--state", job.StatePath);
        output.WriteLine(run.ToString());
        output.WriteLine(run.Output);
        Assert.True(expunged && hostile.FiredCount == 1, "the message was never expunged under the run");
        Assert.True(run.ExitCode == ExitCodes.MessagesFailed, $"exit {run.ExitCode}:\n{run.Output}");
        Assert.Contains("INBOX UID 5", run.Output, StringComparison.Ordinal);
        Assert.Contains("the source served no bytes of its", run.Output, StringComparison.Ordinal);
        Assert.True(run.PeakBytes is > 0 and < PeakLimit, $"peak {run.PeakMiB:0} MiB");
        var again = await CliRun.RunAsync(Deadline, Ceiling, "run", job.Path, "--state", job.StatePath);
        Assert.True(again.ExitCode is ExitCodes.Success or ExitCodes.MessagesFailed, again.Output);
        var census = await Census.TakeAsync(Server, source, Server, target);
        Assert.True(census.Missing == 0 && census.Duplicates == 0, census.ToString());
    }

    /// <summary>A source with INBOX (5 messages) and Real (3), seeded by hand-written APPENDs; an empty target.</summary>
    private async Task<(TestUser Source, TestUser Target)> SeededAsync(string prefix)
    {
        var source = await Server.CreateUserAsync($"{prefix}s");
        var target = await Server.CreateUserAsync($"{prefix}t");
        await Server.SeedAsync(source, "INBOX", Enumerable.Range(0, 5).Select(i => Seed(prefix, i)));
        await Server.SeedAsync(source, "Real", Enumerable.Range(5, 3).Select(i => Seed(prefix, i)));
        return (source, target);
    }

    private static SeedMessage Seed(string prefix, int i) => new(
        Encoding.ASCII.GetBytes($"Subject: message {i}\r\nMessage-ID: <{prefix}-{i}@hostile.test>\r\n\r\nbody {i}\r\n"),
        new DateTimeOffset(2024, 5, 1, 12, 0, 0, TimeSpan.Zero).AddHours(i), i % 2 == 0 ? MessageFlags.Seen : MessageFlags.None, []);

    /// <summary>No byte a terminal acts on: line breaks and tabs are the only control characters allowed.</summary>
    private static void AssertNoControlBytes(string text)
    {
        var bad = text.Select((c, i) => (c, i)).FirstOrDefault(x => (x.c < 0x20 && x.c is not ('\n' or '\r' or '\t')) || x.c is >= '\u007F' and <= '\u009F');
        Assert.True(bad == default, $"a control character U+{(int)bad.c:X4} at {bad.i}: …{text[Math.Max(0, bad.i - 60)..Math.Min(text.Length, bad.i + 20)]}…");
    }
}
