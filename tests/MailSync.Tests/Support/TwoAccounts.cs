using System.Security.Cryptography;
using MailSync.Tests.Infrastructure;

namespace MailSync.Tests.Support;

/// <summary>Compares two accounts after a two-way sync: the same folders, and per folder the same multiset of message bytes with the same flags and dates.</summary>
public static class TwoAccounts
{
    /// <summary>One line per message ("folder | sha256 | flags | date") and per folder, sorted: equal lists mean equal mailboxes.</summary>
    public static async Task<List<string>> PictureAsync(IImapTestServer server, TestUser user)
    {
        var all = await Mailbox.ReadAllAsync(server, user);
        return [.. all.Values.SelectMany(f => f.Messages.Select(m => $"{f.Path} | {Convert.ToHexString(SHA256.HashData(m.Bytes))[..16]} | {m.Flags} | {m.InternalDate.ToUnixTimeSeconds()}")
                .Prepend($"{f.Path} | folder{(f.Subscribed ? ", subscribed" : "")}"))
            .Order(StringComparer.Ordinal)];
    }

    /// <summary>Asserts both accounts hold the same; returns the picture.</summary>
    public static async Task<List<string>> AssertSameAsync(IImapTestServer server, TestUser a, IImapTestServer serverB, TestUser b)
    {
        var pictureA = await PictureAsync(server, a);
        var pictureB = await PictureAsync(serverB, b);
        var onlyA = pictureA.Except(pictureB).ToList();
        var onlyB = pictureB.Except(pictureA).ToList();
        Assert.True(pictureA.SequenceEqual(pictureB),
            $"the two accounts differ.\n  only on A: {string.Join("\n             ", onlyA)}\n  only on B: {string.Join("\n             ", onlyB)}");
        return pictureA;
    }
}
