using System.Text;
using MailKit;
using MailSync.Core.Model;

namespace MailSync.Engine.Tests;

/// <summary>Mail the engine tests seed into in-memory servers directly (never through MailSync).</summary>
internal static class Seeds
{
    public static readonly DateTimeOffset Start = new(2022, 5, 1, 8, 0, 0, TimeSpan.Zero);

    /// <summary>
    /// INBOX (five messages, some \Seen, one keyword), Archive (\Archive: identical twins, a
    /// message without Message-ID or header block, one without Message-ID) and Archive/2020.
    /// </summary>
    public static void Tree(InMemoryServer server)
    {
        var inbox = server.Folders["INBOX"];
        for (var i = 0; i < 5; i++)
            inbox.Append(Message(i), i % 2 == 0 ? MessageFlags.Seen : MessageFlags.None, i == 3 ? ["$Label1"] : [], Start.AddHours(i));
        var archive = server.Add("Archive", SpecialUse.Archive);
        // Identical twins (same bytes, same date) and a message without Message-ID or header block.
        archive.Append(Message(10), MessageFlags.Seen, [], Start.AddDays(1));
        archive.Append(Message(10), MessageFlags.Seen, [], Start.AddDays(1));
        archive.Append(Encoding.ASCII.GetBytes(" no header block\r\njust text\r\n"), MessageFlags.None, [], Start.AddDays(2));
        archive.Append(Message(11, messageId: false), MessageFlags.Flagged, ["work"], Start.AddDays(3));
        var year = server.Add("Archive/2020");
        for (var i = 20; i < 23; i++)
            year.Append(Message(i), MessageFlags.Seen | MessageFlags.Answered, ["$Forwarded"], Start.AddDays(i));
    }

    public static byte[] Message(int n, bool messageId = true)
        => Encoding.ASCII.GetBytes(
            (messageId ? $"Message-ID: <m{n}@engine.test>\r\n" : "") + $"From: a@example.org\r\nSubject: message {n}\r\n\r\nbody of message {n}\r\n");
}
