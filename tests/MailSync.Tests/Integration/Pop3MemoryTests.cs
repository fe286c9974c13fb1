using System.Text;
using System.Text.Json;
using MailSync.Core.Jobs;
using MailSync.Tests.Infrastructure;
using MailSync.Tests.Support;
using Xunit.Abstractions;

namespace MailSync.Tests.Integration;

/// <summary>Memory stays bounded by the batch, not by the maildrop: large POP3 messages are fetched a few at a time.</summary>
[Collection(DovecotCollection.Name)]
public sealed class Pop3MemoryTests(DovecotFixture fixture, ITestOutputHelper output)
{
    private DovecotServer Server => fixture.Server;

    [Fact]
    public async Task Peak_memory_does_not_grow_with_the_size_of_the_maildrop()
    {
        const int size = 6 * 1024 * 1024;
        var small = await PeakAsync("popbig4", 4, size);
        var large = await PeakAsync("popbig16", 16, size);
        output.WriteLine($"peak working set: {small / 1048576} MiB for 4 x 6 MiB, {large / 1048576} MiB for 16 x 6 MiB");
        // 72 MiB more mail may cost at most a batch (8 MB) and some noise more memory, not 72 MiB.
        Assert.True(large < small + 24L * 1048576, $"the peak grew from {small / 1048576} to {large / 1048576} MiB with 72 MiB more mail");
    }

    private async Task<long> PeakAsync(string name, int count, int size)
    {
        var source = await Server.CreateUserAsync(name);
        var target = await Server.CreateUserAsync(name + "-dst");
        for (var i = 0; i < count; i++)
            await Server.SeedAsync(source, "INBOX", [Large(i, size)]);
        using var job = JobFile.CreatePop3(Server, source, Server, target);
        var report = Path.Combine(job.Directory, "report.json");
        var (code, text) = await CliProcess.RunAsync("run", job.Path, "--state", job.StatePath, "--report", report);
        Assert.True(code == ExitCodes.Success, text);
        using var json = JsonDocument.Parse(await File.ReadAllTextAsync(report));
        Assert.Equal(count, json.RootElement.GetProperty("jobs")[0].GetProperty("appended").GetInt32());
        return json.RootElement.GetProperty("peakWorkingSetBytes").GetInt64();
    }

    private static SeedMessage Large(int i, int size)
    {
        var body = new StringBuilder(size + 1024);
        body.Append($"Subject: large {i}\r\nMessage-ID: <large-{i}@mailsync.test>\r\nContent-Type: text/plain\r\n\r\n");
        var line = new string((char)('a' + i % 26), 76) + "\r\n";
        while (body.Length < size)
            body.Append(line);
        return new SeedMessage(Encoding.ASCII.GetBytes(body.ToString()), DateTimeOffset.UtcNow.AddDays(-i), 0, []);
    }
}
