using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using MailKit;
using MailSync.Tests.Infrastructure;
using MailSync.Tests.Support;

namespace MailSync.Tests.Integration;

/// <summary>
/// The harness of issue 19 checked against the real Dovecot with a bare socket (<see cref="RawImapWire"/>, never
/// MailSync's or MailKit's IMAP code): every <see cref="HostileMode"/> puts on the wire what it says, relays the rest
/// untouched, and can be switched off; and <see cref="CliRun"/> measures and bounds a CLI run. Each test is bounded to
/// seconds: endless streams are read for a fixed number of bytes or lines, then the client leaves.
/// </summary>
[Collection(DovecotCollection.Name)]
public sealed class HostileImapServerTests(DovecotFixture fixture)
{
    private static readonly TimeSpan CloseTimeout = TimeSpan.FromSeconds(5);

    private DovecotServer Server => fixture.Server;

    [Fact]
    public async Task None_relays_a_session_faithfully_and_the_fetched_bytes_are_the_stored_ones()
    {
        var user = await Server.CreateUserAsync("hostile-none");
        var raw = Message(1, 40_000);
        var uid = (await Server.SeedAsync(user, "INBOX", [Seed(raw)])).Single();
        await using var hostile = HostileImapServer.Start(Server, HostileMode.None);

        await using (var session = await RawImapSession.LoginAsync(hostile.Host, hostile.Port, user.Name, user.Password))
        {
            Assert.Equal(raw, await session.FetchAsync("INBOX", uid.Id, "BODY.PEEK[]"));
        }

        Assert.Equal(0, hostile.FiredCount);
        Assert.Equal(1, hostile.CommandCount("uid fetch"));
        await AssertAllClosedAsync(hostile);
    }

    [Fact]
    public async Task ByeGreeting_says_BYE_UNAVAILABLE_and_closes_and_once_switched_off_the_next_connection_logs_in()
    {
        var user = await Server.CreateUserAsync("hostile-bye");
        await using var hostile = HostileImapServer.Start(Server, HostileMode.ByeGreeting);

        await using (var wire = await RawImapWire.ConnectAsync(hostile.Host, hostile.Port))
        {
            Assert.Equal("* BYE [UNAVAILABLE] try later\r\n", RawImapWire.Text(await wire.ReadLineAsync() ?? []));
            Assert.Null(await wire.ReadLineAsync());
        }

        hostile.Mode = HostileMode.None;
        await using (var wire = await RawImapWire.ConnectAsync(hostile.Host, hostile.Port))
        {
            await wire.LoginAsync(user);
        }

        Assert.Equal(1, hostile.FiredCount);
        Assert.Equal(2, hostile.ConnectionCount);
    }

    [Fact]
    public async Task LoginUnavailable_refuses_LOGIN_AUTHENTICATE_and_a_LOGIN_with_a_literal_and_forwards_none_of_them()
    {
        var user = await Server.CreateUserAsync("hostile-login");
        var plain = Convert.ToBase64String(Encoding.ASCII.GetBytes($"\0{user.Name}\0{user.Password}"));
        await using var hostile = HostileImapServer.Start(Server, HostileMode.LoginUnavailable);
        await using var wire = await RawImapWire.ConnectAsync(hostile.Host, hostile.Port);
        Assert.StartsWith("* OK", RawImapWire.Text(await wire.ReadLineAsync() ?? []), StringComparison.Ordinal);

        Assert.Equal("a NO [UNAVAILABLE] try later", (await wire.CommandAsync("a", $"LOGIN {user.Name} {user.Password}")).Tagged);
        Assert.Equal("b NO [UNAVAILABLE] try later", (await wire.CommandAsync("b", $"AUTHENTICATE PLAIN {plain}")).Tagged);
        // At a synchronizing literal the client waits for "+": the refusal comes there, and no bytes follow.
        Assert.Equal("c NO [UNAVAILABLE] try later", (await wire.CommandAsync("c", $"LOGIN {user.Name} {{{user.Password.Length}}}")).Tagged);
        // A non-synchronizing literal is sent anyway: it is swallowed with its command.
        await wire.SendAsync($"d LOGIN {user.Name} {{{user.Password.Length}+}}\r\n{user.Password}\r\n");
        Assert.Equal("d NO [UNAVAILABLE] try later", (await wire.ReadUntilTaggedAsync("d")).Tagged);

        // The connection is still a working one: commands other than logins reach Dovecot.
        Assert.StartsWith("e OK", (await wire.CommandAsync("e", "CAPABILITY")).Tagged, StringComparison.Ordinal);
        Assert.Equal(4, hostile.FiredCount);
    }

    [Fact]
    public async Task RandomRefusals_refuse_a_seeded_share_of_the_commands_after_login_the_same_way_on_every_run()
    {
        var user = await Server.CreateUserAsync("hostile-random");
        var options = new HostileOptions { RefusalRate = 0.3, RefusalSeed = 7 };

        async Task<string> PatternAsync()
        {
            await using var hostile = HostileImapServer.Start(Server, HostileMode.RandomRefusals, options);
            await using var wire = await RawImapWire.ConnectAsync(hostile.Host, hostile.Port);
            await wire.LoginAsync(user);
            var pattern = new StringBuilder();
            for (var i = 0; i < 200; i++)
            {
                var tagged = (await wire.CommandAsync($"n{i}", "NOOP")).Tagged;
                Assert.True(tagged == $"n{i} NO refused at random" || tagged.StartsWith($"n{i} OK", StringComparison.Ordinal), tagged);
                pattern.Append(tagged.Contains(" NO ", StringComparison.Ordinal) ? 'x' : '.');
            }

            Assert.StartsWith("z OK", (await wire.CommandAsync("z", "LOGOUT")).Tagged, StringComparison.Ordinal);
            return pattern.ToString();
        }

        var first = await PatternAsync();
        var second = await PatternAsync();

        Assert.Equal(first, second);
        Assert.InRange(first.Count(c => c == 'x'), 35, 85);
    }

    /// <summary>The trigger verb, the command sent, and how the endless line starts.</summary>
    public static TheoryData<string?, string, string> EndlessLines => new()
    {
        { "LIST", "LIST \"\" \"*\"", "* LIST (\\HasNoChildren) \"/\" \"" },
        { null, "NOOP", "* OK " },
    };

    [Theory]
    [MemberData(nameof(EndlessLines))]
    public async Task EndlessLine_streams_32_MB_without_a_CR_or_LF_and_stops_when_the_client_leaves(string? trigger, string command, string start)
    {
        const int total = 32 * 1024 * 1024;
        var user = await Server.CreateUserAsync("hostile-endless");
        await using var hostile = HostileImapServer.Start(Server, HostileMode.EndlessLine, new HostileOptions { TriggerVerb = trigger });
        await using (var wire = await RawImapWire.ConnectAsync(hostile.Host, hostile.Port))
        {
            await wire.LoginAsync(user);
            if (trigger is not null)
            {
                // Before the trigger verb, commands are relayed as usual; without one, the first command after login meets it.
                Assert.StartsWith("c OK", (await wire.CommandAsync("c", "CAPABILITY")).Tagged, StringComparison.Ordinal);
            }

            await wire.SendAsync($"e {command}\r\n");
            var head = RawImapWire.Text(await wire.ReadBytesAsync(start.Length));
            var received = head.Length;
            var buffer = new byte[64 * 1024];
            var endings = 0;
            while (received < total)
            {
                var read = await wire.ReadSomeAsync(buffer);
                endings += buffer.AsSpan(0, read).IndexOfAny((byte)'\r', (byte)'\n') >= 0 ? 1 : 0;
                received += read;
            }

            Assert.Equal(start, head);
            Assert.Equal(0, endings);
        }

        Assert.Equal(1, hostile.FiredCount);
        await AssertAllClosedAsync(hostile);
    }

    [Fact]
    public async Task UntaggedFlood_answers_the_trigger_command_with_more_than_100000_untagged_lines_and_never_a_tagged_one()
    {
        const int lines = 150_000;
        var user = await Server.CreateUserAsync("hostile-flood");
        await using var hostile = HostileImapServer.Start(Server, HostileMode.UntaggedFlood, new HostileOptions { TriggerVerb = "SELECT" });
        await using (var wire = await RawImapWire.ConnectAsync(hostile.Host, hostile.Port))
        {
            await wire.LoginAsync(user);
            Assert.StartsWith("l OK", (await wire.CommandAsync("l", "LIST \"\" \"*\"")).Tagged, StringComparison.Ordinal);

            await wire.SendAsync("s SELECT INBOX\r\n");
            for (var i = 0; i < lines; i++)
            {
                var line = RawImapWire.Text(await wire.ReadLineAsync(maxLength: 100) ?? []);
                Assert.True(line == "* OK flood\r\n", $"line {i} of the flood: {line}");
            }
        }

        Assert.Equal(1, hostile.FiredCount);
        await AssertAllClosedAsync(hostile);
    }

    [Theory]
    [InlineData("BODY.PEEK[]", 2_147_483_648L, "BODY[] {2147483648}")]
    // Dovecot answers BINARY[] with a plain literal when the content has no NUL; a "~" it sends would be kept.
    [InlineData("BINARY.PEEK[]", 2_147_483_648L, "BINARY[] {2147483648}")]
    [InlineData("BODY.PEEK[]", 2_147_483_647L, "BODY[] {2147483647}")]
    public async Task SlowHugeLiteral_announces_a_2_GiB_body_and_sends_it_one_byte_per_interval(string item, long length, string announced)
    {
        var user = await Server.CreateUserAsync("hostile-slow");
        var uids = await Server.SeedAsync(user, "INBOX", [Seed(Message(1, 2_000)), Seed(Message(2, 3_000))]);
        var uid = uids[1].Id;
        await using var hostile = HostileImapServer.Start(Server, HostileMode.SlowHugeLiteral, new HostileOptions { HugeLiteralLength = length, TrickleInterval = TimeSpan.FromMilliseconds(100) });
        await using (var wire = await RawImapWire.ConnectAsync(hostile.Host, hostile.Port))
        {
            await wire.LoginAsync(user);
            Assert.StartsWith("x OK", (await wire.CommandAsync("x", "EXAMINE INBOX")).Tagged, StringComparison.Ordinal);
            // A part of a message is no whole message: relayed as it is.
            var header = await wire.CommandAsync("h", $"UID FETCH {uid} (BODY.PEEK[HEADER])");
            Assert.StartsWith("h OK", header.Tagged, StringComparison.Ordinal);
            Assert.Contains("Subject: message 2", Assert.Single(header.Untagged), StringComparison.Ordinal);

            await wire.SendAsync($"f UID FETCH {uid} ({item})\r\n");
            var line = RawImapWire.Text(await wire.ReadLineAsync() ?? []);
            var clock = Stopwatch.StartNew();
            var trickled = await wire.ReadBytesAsync(8);

            Assert.Equal($"* 2 FETCH (UID {uid} {announced}\r\n", line);
            Assert.InRange(clock.Elapsed, TimeSpan.FromMilliseconds(600), TimeSpan.FromSeconds(5));
            Assert.All(trickled, b => Assert.Equal((byte)'x', b));
        }

        Assert.Equal(1, hostile.FiredCount);
        await AssertAllClosedAsync(hostile);
    }

    /// <summary>Which unsolicited responses, and the lines expected before the tagged OK of "UID FETCH (second uid) (FLAGS)" (with {1}, {2}, {3} the UIDs).</summary>
    public static TheoryData<UnsolicitedKinds, string[]> UnsolicitedResponses => new()
    {
        { UnsolicitedKinds.Fetch, ["* 3 FETCH (UID {3} FLAGS (\\Seen))"] },
        { UnsolicitedKinds.All, ["* 3 FETCH (UID {3} FLAGS (\\Seen))", "* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft $Hostile)", "* 3 EXISTS"] },
        { UnsolicitedKinds.Exists | UnsolicitedKinds.Flags, ["* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft $Hostile)", "* 3 EXISTS"] },
    };

    [Theory]
    [MemberData(nameof(UnsolicitedResponses))]
    public async Task UnsolicitedFetch_injects_responses_for_the_mailbox_as_it_is_before_the_tagged_OK(UnsolicitedKinds kinds, string[] expected)
    {
        var user = await Server.CreateUserAsync("hostile-unsolicited");
        var uids = (await Server.SeedAsync(user, "INBOX", Enumerable.Range(1, 3).Select(i => Seed(Message(i, 1_000))))).Select(u => u.Id).ToArray();
        string Uids(string text) => text.Replace("{1}", $"{uids[0]}", StringComparison.Ordinal)
            .Replace("{2}", $"{uids[1]}", StringComparison.Ordinal).Replace("{3}", $"{uids[2]}", StringComparison.Ordinal);
        await using var hostile = HostileImapServer.Start(Server, HostileMode.UnsolicitedFetch, new HostileOptions { Unsolicited = kinds });
        await using var wire = await RawImapWire.ConnectAsync(hostile.Host, hostile.Port);
        await wire.LoginAsync(user);
        Assert.StartsWith("x OK", (await wire.CommandAsync("x", "EXAMINE INBOX")).Tagged, StringComparison.Ordinal);

        // All three asked for: a FETCH for one of them is reported a second time, the last.
        var all = await wire.CommandAsync("a", "UID FETCH 1:* (UID FLAGS)");
        Assert.StartsWith("a OK", all.Tagged, StringComparison.Ordinal);
        Assert.Equal(3, all.Untagged.Count(l => !l.Contains("\\Seen", StringComparison.Ordinal) && l.Contains(" FETCH ", StringComparison.Ordinal)));
        Assert.Equal((kinds & UnsolicitedKinds.Fetch) != 0, all.Untagged.Contains($"* 3 FETCH (UID {uids[2]} FLAGS (\\Seen))"));

        // One asked for: the FETCH is for the highest-numbered message not asked for, with its own UID.
        var one = await wire.CommandAsync("b", $"UID FETCH {uids[1]} (FLAGS)");
        Assert.StartsWith("b OK", one.Tagged, StringComparison.Ordinal);
        Assert.StartsWith($"* 2 FETCH (UID {uids[1]} FLAGS (", one.Untagged[0], StringComparison.Ordinal);
        Assert.Equal(expected.Select(Uids), one.Untagged.Skip(1));
        Assert.Equal(2, hostile.FiredCount);
    }

    /// <summary>The listing command, the word its lines start with, and whether each extra folder has a STATUS line.</summary>
    public static TheoryData<string, string, bool> Listings => new()
    {
        { "LIST \"\" \"*\"", "* LIST (\\HasNoChildren) \"/\" ", false },
        { "LIST \"\" \"*\" RETURN (SUBSCRIBED CHILDREN STATUS (MESSAGES UIDNEXT UIDVALIDITY))", "* LIST (\\HasNoChildren) \"/\" ", true },
        { "LIST (SUBSCRIBED) \"\" \"*\" RETURN (CHILDREN)", "* LIST (\\HasNoChildren \\Subscribed) \"/\" ", false },
        { "LSUB \"\" \"*\"", "* LSUB () \"/\" ", false },
    };

    [Theory]
    [MemberData(nameof(Listings))]
    public async Task ManyFolders_adds_200000_folders_to_every_listing_and_none_to_other_LISTs(string command, string start, bool withStatus)
    {
        var user = await Server.CreateUserAsync("hostile-many");
        await Server.SeedAsync(user, "Real", [Seed(Message(1, 1_000))]);
        await using var hostile = HostileImapServer.Start(Server, HostileMode.ManyFolders);
        await using var wire = await RawImapWire.ConnectAsync(hostile.Host, hostile.Port);
        await wire.LoginAsync(user);

        var listed = await wire.CommandAsync("l", command);

        Assert.StartsWith("l OK", listed.Tagged, StringComparison.Ordinal);
        var extra = listed.Untagged.Where(l => l.StartsWith(start + "\"f", StringComparison.Ordinal)).ToList();
        Assert.Equal(200_000, extra.Count);
        Assert.Equal(start + "\"f000001\"", extra[0]);
        Assert.Equal(start + "\"f200000\"", extra[^1]);
        Assert.Contains(listed.Untagged, l => l.StartsWith(start[..6], StringComparison.Ordinal) && (l.EndsWith(" Real", StringComparison.Ordinal) || l.EndsWith(" \"Real\"", StringComparison.Ordinal)));
        Assert.Equal(withStatus ? 200_000 : 0, listed.Untagged.Count(l => l.StartsWith("* STATUS \"f", StringComparison.Ordinal)));
        if (withStatus)
        {
            Assert.Contains("* STATUS \"f123456\" (MESSAGES 0 UIDNEXT 1 UIDVALIDITY 1)", listed.Untagged);
        }

        // Not a listing of all folders (no wildcard, or special-use folders only): untouched.
        Assert.Single((await wire.CommandAsync("d", "LIST \"\" \"\"")).Untagged);
        Assert.Empty((await wire.CommandAsync("u", "LIST (SPECIAL-USE) \"\" \"*\"")).Untagged);
        Assert.Equal(1, hostile.FiredCount);
    }

    public static TheoryData<HostileName> BadNames => new(Enum.GetValues<HostileName>());

    [Theory]
    [MemberData(nameof(BadNames))]
    public async Task BadFolderName_lists_the_hostile_name_and_every_spelling_of_it_reads_the_real_folder(HostileName badName)
    {
        var user = await Server.CreateUserAsync("hostile-name");
        await Server.SeedAsync(user, "Real", [Seed(Message(1, 1_000)), Seed(Message(2, 1_000))]);
        var name = HostileNames.Bytes(badName);
        var astring = RawImapWire.Text(HostileNames.Astring(name));
        await using var hostile = HostileImapServer.Start(Server, HostileMode.BadFolderName, new HostileOptions { BadName = badName, BadNameTarget = "Real" });
        await using var wire = await RawImapWire.ConnectAsync(hostile.Host, hostile.Port);
        await wire.LoginAsync(user);

        var listed = await wire.CommandAsync("l", "LIST \"\" \"*\" RETURN (STATUS (MESSAGES))");
        var subscribed = await wire.CommandAsync("s", "LSUB \"\" \"*\"");

        Assert.StartsWith("l OK", listed.Tagged, StringComparison.Ordinal);
        var at = listed.Untagged.ToList().IndexOf($"* LIST (\\HasNoChildren) \"/\" {astring}");
        Assert.True(at >= 0, $"the hostile name is not listed as {astring}: {string.Join(" | ", listed.Untagged)}");
        Assert.Equal($"* STATUS {astring} (MESSAGES 2)", listed.Untagged[at + 1]);
        Assert.Contains($"* LSUB () \"/\" {astring}", subscribed.Untagged);

        var spellings = HostileNames.Aliases(name);
        for (var i = 0; i < spellings.Count; i++)
        {
            var spelling = RawImapWire.Text(spellings[i]);
            var selected = await MailboxCommandAsync(wire, $"e{i}", "EXAMINE", spellings[i]);
            Assert.True(selected.Tagged.StartsWith($"e{i} OK", StringComparison.Ordinal), $"EXAMINE {spelling}: {selected.Tagged}");
            Assert.Contains("* 2 EXISTS", selected.Untagged);
            // Answers name the folder as the command did, as a server answers for the folder it was asked about.
            var echoed = RawImapWire.Text(HostileNames.Astring(spellings[i]));
            var status = await MailboxCommandAsync(wire, $"t{i}", "STATUS", spellings[i], " (MESSAGES)");
            Assert.Equal([$"* STATUS {echoed} (MESSAGES 2)"], status.Untagged);
            if (spellings[i].Length > 0)
            {
                // A client looks one folder up with LIST "" name (an empty pattern asks for the delimiter instead).
                var lookup = await MailboxCommandAsync(wire, $"u{i}", "LIST \"\"", spellings[i], " RETURN (STATUS (MESSAGES))");
                Assert.Equal(2, lookup.Untagged.Count);
                Assert.Matches(@"^\* LIST \([^)]*\) ""/"" $", lookup.Untagged[0][..^echoed.Length]);
                Assert.EndsWith(echoed, lookup.Untagged[0], StringComparison.Ordinal);
                Assert.Equal($"* STATUS {echoed} (MESSAGES 2)", lookup.Untagged[1]);
            }
        }

        var mapped = hostile.MappedCount;
        Assert.Equal((3 * spellings.Count) - (name.Length == 0 ? 1 : 0), mapped);
        // Other names are left alone, also when sent as a literal.
        Assert.StartsWith("o NO Mailbox doesn't exist", (await MailboxCommandAsync(wire, "o", "EXAMINE", "Unreal"u8.ToArray(), asLiteral: true)).Tagged, StringComparison.Ordinal);
        Assert.StartsWith("r OK", (await MailboxCommandAsync(wire, "r", "EXAMINE", "Real"u8.ToArray(), asLiteral: true)).Tagged, StringComparison.Ordinal);
        Assert.Equal(mapped, hostile.MappedCount);
        Assert.Single((await wire.CommandAsync("d", "LIST \"\" \"\"")).Untagged);
    }

    [Fact]
    public async Task ControlBytes_reach_the_client_in_the_greeting_a_tagged_NO_and_a_folder_name()
    {
        var user = await Server.CreateUserAsync("hostile-ctl");
        var text = RawImapWire.Text(HostileNames.ControlText);
        var folder = RawImapWire.Text(HostileNames.Astring(HostileNames.ControlFolder));
        await using var hostile = HostileImapServer.Start(Server, HostileMode.ControlBytes);
        await using var wire = await RawImapWire.ConnectAsync(hostile.Host, hostile.Port);

        var greeting = RawImapWire.Text(await wire.ReadLineAsync() ?? []);
        Assert.StartsWith("* OK [CAPABILITY IMAP4rev1 ", greeting, StringComparison.Ordinal);
        Assert.EndsWith("] " + text + "\r\n", greeting, StringComparison.Ordinal);
        Assert.StartsWith("a OK", (await wire.CommandAsync("a", $"LOGIN {user.Name} {user.Password}")).Tagged, StringComparison.Ordinal);

        var listed = await wire.CommandAsync("l", "LIST \"\" \"*\"");
        Assert.Contains($"* LIST (\\HasNoChildren) \"/\" {folder}", listed.Untagged);
        // Dovecot answers NO to a folder that does not exist, and BAD to the NUL in the listed name: both texts replaced.
        Assert.Equal($"n NO {text}", (await wire.CommandAsync("n", "EXAMINE nosuch")).Tagged);
        Assert.Equal($"e BAD {text}", (await wire.CommandAsync("e", $"EXAMINE {folder}")).Tagged);
        Assert.Contains('\0', text);
        Assert.Contains("\u001b[31m", text, StringComparison.Ordinal);
        Assert.Contains("\u001b]0;", text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task HugeCounts_turn_EXISTS_UIDNEXT_and_STATUS_MESSAGES_into_4294967295()
    {
        var user = await Server.CreateUserAsync("hostile-huge");
        await Server.SeedAsync(user, "INBOX", [Seed(Message(1, 1_000))]);
        await using var hostile = HostileImapServer.Start(Server, HostileMode.HugeCounts);
        await using var wire = await RawImapWire.ConnectAsync(hostile.Host, hostile.Port);
        await wire.LoginAsync(user);

        var selected = await wire.CommandAsync("x", "EXAMINE INBOX");
        var status = await wire.CommandAsync("s", "STATUS INBOX (MESSAGES UIDNEXT UNSEEN)");
        var listed = await wire.CommandAsync("l", "LIST \"\" \"*\" RETURN (STATUS (MESSAGES UIDNEXT))");

        Assert.Contains("* 4294967295 EXISTS", selected.Untagged);
        Assert.Contains(selected.Untagged, l => l.StartsWith("* OK [UIDNEXT 4294967295]", StringComparison.Ordinal));
        Assert.Equal(["* STATUS INBOX (MESSAGES 4294967295 UIDNEXT 4294967295 UNSEEN 1)"], status.Untagged);
        Assert.Contains("* STATUS INBOX (MESSAGES 4294967295 UIDNEXT 4294967295)", listed.Untagged);
    }

    [Fact]
    public async Task CliRun_reports_exit_code_output_wall_time_and_a_plausible_peak_for_a_help_run()
    {
        var run = await CliRun.RunAsync(TimeSpan.FromSeconds(60), "--help");

        Assert.Equal(0, run.ExitCode);
        Assert.False(run.TimedOut);
        Assert.Contains("run", run.Output, StringComparison.Ordinal);
        Assert.InRange(run.WallTime, TimeSpan.FromMilliseconds(10), TimeSpan.FromSeconds(60));
        Assert.True(run.Samples >= 1, run.ToString());
        // A .NET process cannot start in less than ~10 MiB resident, and --help has no reason to touch 1 GiB.
        Assert.InRange(run.PeakBytes, 10L * 1024 * 1024, 1024L * 1024 * 1024);
    }

    [Fact]
    public async Task CliRun_kills_a_run_that_outlives_its_deadline_and_keeps_its_measurements()
    {
        await using var silent = SilentServer.Start();
        using var job = silent.Job();

        var run = await CliRun.RunAsync(TimeSpan.FromSeconds(3), "run", job.Path, "--state", job.StatePath);

        Assert.True(run.TimedOut, run.ToString());
        Assert.False(run.OverMemory);
        Assert.Equal(137, run.ExitCode);
        Assert.InRange(run.WallTime, TimeSpan.FromSeconds(3), TimeSpan.FromSeconds(20));
        Assert.True(run.PeakBytes > 10L * 1024 * 1024, run.ToString());
    }

    [Fact]
    public async Task CliRun_kills_a_run_whose_peak_exceeds_the_memory_ceiling()
    {
        await using var silent = SilentServer.Start();
        using var job = silent.Job();

        // Any .NET process is above 1 MiB from its first sample on.
        var run = await CliRun.RunAsync(TimeSpan.FromSeconds(30), 1024 * 1024, "run", job.Path, "--state", job.StatePath);

        Assert.True(run.OverMemory, run.ToString());
        Assert.False(run.TimedOut);
        Assert.Equal(137, run.ExitCode);
        Assert.True(run.WallTime < TimeSpan.FromSeconds(20), run.ToString());
        Assert.True(run.PeakBytes > 1024 * 1024, run.ToString());
    }

    /// <summary>
    /// "<paramref name="verb"/> name<paramref name="rest"/>" with the name as a quoted string, or as a synchronizing
    /// literal (the server's "+" awaited) when it holds CR or LF or <paramref name="asLiteral"/> says so.
    /// </summary>
    private static async Task<(IReadOnlyList<string> Untagged, string Tagged)> MailboxCommandAsync(
        RawImapWire wire, string tag, string verb, byte[] name, string rest = "", bool asLiteral = false)
    {
        if (!asLiteral && name.AsSpan().IndexOfAny((byte)'\r', (byte)'\n') < 0)
        {
            return await wire.CommandAsync(tag, $"{verb} {RawImapWire.Text(HostileNames.Astring(name))}{rest}");
        }

        await wire.SendAsync($"{tag} {verb} {{{name.Length}}}\r\n");
        Assert.StartsWith("+", RawImapWire.Text(await wire.ReadLineAsync() ?? []), StringComparison.Ordinal);
        await wire.SendAsync([.. name, .. Encoding.Latin1.GetBytes(rest + "\r\n")]);
        return await wire.ReadUntilTaggedAsync(tag);
    }

    /// <summary>
    /// A listener that never accepts (the kernel completes the handshakes) and so never greets; a job with both accounts
    /// there and a client timeout of an hour waits far longer than any deadline of these tests.
    /// </summary>
    private sealed class SilentServer : IAsyncDisposable
    {
        private readonly TcpListener _listener = new(IPAddress.Loopback, 0);

        private SilentServer() => _listener.Start();

        public static SilentServer Start() => new();

        public JobFile Job()
        {
            var port = ((IPEndPoint)_listener.LocalEndpoint).Port;
            var nobody = new TestUser("nobody", "nothing");
            return ImapJob.Create(port, nobody, port, nobody, sourceExtras: ", \"timeoutSeconds\": 3600");
        }

        public ValueTask DisposeAsync()
        {
            _listener.Stop();
            return ValueTask.CompletedTask;
        }
    }

    private static async Task AssertAllClosedAsync(HostileImapServer hostile)
    {
        var clock = Stopwatch.StartNew();
        while (hostile.OpenConnections > 0 && clock.Elapsed < CloseTimeout)
        {
            await Task.Delay(20);
        }

        Assert.Equal(0, hostile.OpenConnections);
    }

    private static byte[] Message(int i, int size)
    {
        var text = new StringBuilder($"Subject: message {i}\r\nMessage-ID: <hostile-{i}@mailsync.test>\r\nContent-Type: text/plain\r\n\r\n");
        while (text.Length < size)
        {
            text.Append(CultureInfo.InvariantCulture, $"line {text.Length} of message {i}\r\n");
        }

        return Encoding.ASCII.GetBytes(text.ToString());
    }

    private static SeedMessage Seed(byte[] raw) => new(raw, new DateTimeOffset(2024, 5, 1, 12, 0, 0, TimeSpan.Zero), MessageFlags.None, []);
}
