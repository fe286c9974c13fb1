using System.Text;
using MailKit;
using MailSync.Tests.Infrastructure;

namespace MailSync.Tests.Support;

/// <summary>Deterministic generated mail for volume tests: varied sizes, some without Message-ID, some exact duplicates.</summary>
public static class Synthetic
{
    public static IEnumerable<SeedMessage> Messages(int count, int seed)
    {
        var random = new Random(seed);
        SeedMessage? previous = null;
        for (var i = 0; i < count; i++)
        {
            // Every 97th message repeats the previous one byte for byte: a true duplicate stays two copies.
            if (i % 97 == 96)
            {
                yield return previous!;
                continue;
            }

            var date = new DateTimeOffset(2020, 1, 1, 0, 0, 0, TimeSpan.Zero).AddSeconds(random.Next(0, 150_000_000));
            var body = new StringBuilder();
            var lines = random.Next(20, 200);
            for (var l = 0; l < lines; l++)
                body.Append("Line ").Append(l).Append(" of message ").Append(i).Append(": ").Append('x', random.Next(10, 70)).Append("\r\n");
            var id = i % 10 == 3 ? string.Empty : $"Message-ID: <synthetic-{seed}-{i}@mailsync.test>\r\n";
            var raw = Encoding.ASCII.GetBytes(
                $"From: Sender {i % 17} <s{i % 17}@example.com>\r\nTo: rcpt@example.com\r\nSubject: Synthetic {i}\r\n" +
                $"Date: {date:R}\r\n{id}MIME-Version: 1.0\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n{body}");
            var flags = (i % 2 == 0 ? MessageFlags.Seen : 0) | (i % 9 == 0 ? MessageFlags.Flagged : 0);
            string[] keywords = i % 13 == 0 ? ["$Label2"] : [];
            previous = new SeedMessage(raw, date, flags, keywords);
            yield return previous;
        }
    }
}
