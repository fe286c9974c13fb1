using System.Security.Cryptography;
using System.Text;
using MailKit;
using MailKit.Security;
using MailSync.Core.Jobs;
using MailSync.Core.Stores;
using MailSync.Core.Stores.Imap;
using MailSync.Core.Sync;
using MailSync.Tests.Infrastructure;
using MailSync.Tests.Support;

namespace MailSync.Tests.Integration;

/// <summary>
/// Fetched bodies are spooled by the IMAP client itself: memory up to SpoolToDiskAbove, a
/// temporary file above it, handed to the engine as a <see cref="DetachableStream"/> it takes
/// over without a copy; and a large message copied that way arrives byte for byte.
/// </summary>
[Collection(DovecotCollection.Name)]
public sealed class SpoolingTests(DovecotFixture fixture)
{
    private const int Threshold = 64 * 1024;

    private DovecotServer Server => fixture.Server;

    [Fact]
    public async Task ReadMessagesAsync_hands_a_detachable_file_spool_above_the_threshold_and_a_memory_spool_below()
    {
        var user = await Server.CreateUserAsync("spool-read");
        var small = Message("small", 2_000, seed: 1);
        var big = Message("big", 300_000, seed: 2);
        await Server.SeedAsync(user, "INBOX", [Seed(small), Seed(big)]);
        await using var store = new ImapStore(new MailEndpoint(Server.Host, Server.ImapPort, SecureSocketOptions.None, user.Name, user.Password)) { SpoolToDiskAbove = Threshold };
        await store.ConnectAsync(CancellationToken.None);
        await store.OpenFolderAsync("INBOX", forWriting: false, CancellationToken.None);
        var summaries = await store.FetchSummariesAsync(1, CancellationToken.None);
        var sizes = summaries.ToDictionary(s => s.Uid, s => s.Size);
        var handed = new Dictionary<uint, Stream>();
        var taken = new Dictionary<uint, Stream>();

        await store.ReadMessagesAsync(sizes.Keys.ToList(), async (uid, stream, ct) =>
        {
            handed[uid] = stream;
            taken[uid] = await MessageSpool.TakeAsync(stream, sizes[uid], Threshold, ct);
        }, CancellationToken.None);

        try
        {
            Assert.Equal(2, taken.Count);
            Assert.All(handed.Values, s => Assert.IsType<DetachableStream>(s));
            var smallUid = sizes.Single(s => s.Value < Threshold).Key;
            var bigUid = sizes.Single(s => s.Value > Threshold).Key;
            Assert.IsAssignableFrom<MemoryStream>(taken[smallUid]);
            var file = Assert.IsType<FileStream>(taken[bigUid]);
            Assert.True(File.Exists(file.Name));
            Assert.All(taken.Values, s => Assert.Equal(0, s.Position));
            Assert.Equal(small, ReadAll(taken[smallUid]));
            Assert.Equal(big, ReadAll(taken[bigUid]));
            Assert.Equal(big.Length, sizes[bigUid]);

            await taken[bigUid].DisposeAsync();
            Assert.False(File.Exists(file.Name), "the spool file outlived its stream");
        }
        finally
        {
            foreach (var stream in taken.Values)
                await stream.DisposeAsync();
        }
    }

    [Fact]
    public async Task A_spool_the_callback_does_not_take_is_disposed_with_its_file_when_the_callback_returns()
    {
        var user = await Server.CreateUserAsync("spool-drop");
        await Server.SeedAsync(user, "INBOX", [Seed(Message("dropped", 200_000, seed: 3))]);
        await using var store = new ImapStore(new MailEndpoint(Server.Host, Server.ImapPort, SecureSocketOptions.None, user.Name, user.Password)) { SpoolToDiskAbove = Threshold };
        await store.ConnectAsync(CancellationToken.None);
        await store.OpenFolderAsync("INBOX", forWriting: false, CancellationToken.None);
        var summary = Assert.Single(await store.FetchSummariesAsync(1, CancellationToken.None));
        Stream? handed = null;
        var hash = string.Empty;

        await store.ReadMessagesAsync([summary.Uid], async (_, stream, ct) =>
        {
            handed = stream;
            hash = Convert.ToHexString(await SHA256.HashDataAsync(stream, ct));
        }, CancellationToken.None);

        Assert.NotNull(handed);
        Assert.Equal(Convert.ToHexString(SHA256.HashData(Message("dropped", 200_000, seed: 3))), hash);
        Assert.Throws<ObjectDisposedException>(() => handed.Length);
    }

    [Fact]
    public async Task A_3_MB_message_copied_through_a_64_KiB_spool_threshold_arrives_byte_exact()
    {
        var source = await Server.CreateUserAsync("spool-src");
        var target = await Server.CreateUserAsync("spool-dst");
        var huge = Message("huge", 3 * 1024 * 1024, seed: 4);
        var medium = Message("medium", 300_000, seed: 5);
        var smalls = Enumerable.Range(0, 5).Select(i => Message($"small-{i}", 1_500 + (i * 700), seed: 10 + i)).ToList();
        await Server.SeedAsync(source, "INBOX", smalls.Take(2).Append(huge).Append(medium).Concat(smalls.Skip(2)).Select(Seed));
        using var job = JobFile.Create(Server, source, Server, target);

        var result = await ImapJob.RunAsync(job, options: new MigrationOptions { SpoolToDiskAbove = Threshold });

        Assert.Equal(JobStatus.Succeeded, result.Status);
        Assert.Equal(7, result.Appended);
        var census = await Census.TakeAsync(Server, source, Server, target);
        Assert.True(census.ExactlyOnce, census.ToString());
        var copies = (await Mailbox.ReadAllAsync(Server, target))["INBOX"].Messages.Select(m => Convert.ToHexString(SHA256.HashData(m.Bytes))).ToList();
        // Byte-exact, not just equal after CRLF normalisation.
        Assert.Contains(Convert.ToHexString(SHA256.HashData(huge)), copies);
        Assert.Contains(Convert.ToHexString(SHA256.HashData(medium)), copies);
        Assert.All(smalls, s => Assert.Contains(Convert.ToHexString(SHA256.HashData(s)), copies));
    }

    /// <summary>A canonical (CRLF) message of about <paramref name="size"/> bytes with varied base64 lines.</summary>
    private static byte[] Message(string tag, int size, int seed)
    {
        var random = new Random(seed);
        var text = new StringBuilder($"From: a@example.com\r\nTo: b@example.com\r\nSubject: {tag}\r\nMessage-ID: <spool-{tag}-{seed}@mailsync.test>\r\n"
            + "MIME-Version: 1.0\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n");
        var line = new byte[57];
        while (text.Length < size)
        {
            random.NextBytes(line);
            text.Append(Convert.ToBase64String(line)).Append("\r\n");
        }

        return Encoding.ASCII.GetBytes(text.ToString());
    }

    private static SeedMessage Seed(byte[] raw) => new(raw, new DateTimeOffset(2022, 7, 1, 9, 30, 0, TimeSpan.Zero), MessageFlags.Seen, []);

    private static byte[] ReadAll(Stream stream)
    {
        using var copy = new MemoryStream();
        stream.CopyTo(copy);
        stream.Position = 0;
        return copy.ToArray();
    }
}
