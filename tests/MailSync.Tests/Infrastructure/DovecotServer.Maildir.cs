using System.Globalization;
using System.Runtime.InteropServices;
using MailKit;

namespace MailSync.Tests.Infrastructure;

/// <summary>
/// Users whose mail Dovecot keeps in a Maildir that the tests write themselves: file by file, so
/// the source holds exactly the given bytes and never bytes that went through any IMAP client's
/// APPEND (MailSync's own least of all). Dovecot serves them as it serves any Maildir.
/// </summary>
public sealed partial class DovecotServer
{
    private static int s_maildirFile;

    /// <summary>A user whose mail is the Maildir++ folder <see cref="MaildirOf"/> (folders as ".A.B", hierarchy separator as this server's).</summary>
    public async Task<TestUser> CreateMaildirUserAsync(string? namePrefix = null)
    {
        var user = await CreateUserAsync(namePrefix);
        var path = Path.Combine(UsersDirectory, user.Name);
        var temp = path + ".tmp";
        await File.WriteAllTextAsync(temp, $"{user.Name}:{{PLAIN}}{user.Password}:::::: userdb_mail=maildir:~/Maildir\n");
        File.Move(temp, path, overwrite: true);
        return user;
    }

    /// <summary>The user's Maildir root (INBOX's cur/new/tmp are in it).</summary>
    public string MaildirOf(TestUser user) => Path.Combine(RootDirectory, "mail", user.Name, "Maildir");

    /// <summary>
    /// Writes <paramref name="messages"/> as files into <paramref name="folder"/> ("INBOX" or a
    /// path with this server's separator, no '.' in a name), flags and keywords in the file names
    /// (keywords through the folder's dovecot-keywords file), INTERNALDATE as the file's time. Call
    /// before the user's first login to that folder, or Dovecot may not look again at once.
    /// </summary>
    public void WriteMaildir(TestUser user, string folder, IEnumerable<SeedMessage> messages)
    {
        if (folder != "INBOX" && folder.Contains('.', StringComparison.Ordinal))
            throw new ArgumentException("Maildir++ keeps '.' as its own separator: no '.' in folder names here", nameof(folder));
        var directory = folder == "INBOX" ? MaildirOf(user) : Path.Combine(MaildirOf(user), "." + folder.Replace(DirectorySeparator, '.'));
        foreach (var sub in new[] { "cur", "new", "tmp" })
            Directory.CreateDirectory(Path.Combine(directory, sub));
        if (folder != "INBOX")
            File.WriteAllBytes(Path.Combine(directory, "maildirfolder"), []);

        var keywordsFile = Path.Combine(directory, "dovecot-keywords");
        var keywords = File.Exists(keywordsFile)
            ? File.ReadAllLines(keywordsFile).Select(l => l.Split(' ', 2)[1]).ToList()
            : [];
        foreach (var message in messages)
        {
            var letters = string.Concat(message.Keywords.Select(k =>
            {
                var index = keywords.IndexOf(k);
                if (index < 0)
                {
                    keywords.Add(k);
                    index = keywords.Count - 1;
                }

                return (char)('a' + index);
            }).Order());
            var n = Interlocked.Increment(ref s_maildirFile);
            var name = $"{1_600_000_000 + n}.M{n}P1.mailsync-test:2,{SystemFlagLetters(message.Flags)}{letters}";
            var file = Path.Combine(directory, "cur", name);
            File.WriteAllBytes(file, message.Raw);
            File.SetLastWriteTimeUtc(file, message.InternalDate.UtcDateTime);
        }

        if (keywords.Count > 26)
            throw new ArgumentException("a Maildir folder holds at most 26 keywords");
        File.WriteAllLines(keywordsFile, keywords.Select((k, i) => $"{i.ToString(CultureInfo.InvariantCulture)} {k}"));
        ChownTree(Path.Combine(RootDirectory, "mail", user.Name));
    }

    private static string SystemFlagLetters(MessageFlags flags)
        => (flags.HasFlag(MessageFlags.Draft) ? "D" : "") + (flags.HasFlag(MessageFlags.Flagged) ? "F" : "")
            + (flags.HasFlag(MessageFlags.Answered) ? "R" : "") + (flags.HasFlag(MessageFlags.Seen) ? "S" : "")
            + (flags.HasFlag(MessageFlags.Deleted) ? "T" : "");

    /// <summary>Mail processes run as the mail user: what the tests wrote as root must be theirs.</summary>
    private static void ChownTree(string path)
    {
        var mailUser = RequireAccount("nobody");
        foreach (var entry in Directory.EnumerateFileSystemEntries(path, "*", SearchOption.AllDirectories).Prepend(path))
        {
            if (NativeMethods.Chown(entry, mailUser.Uid, mailUser.Gid) != 0)
                throw new InvalidOperationException($"chown {entry} failed: errno {Marshal.GetLastPInvokeError()}");
        }
    }
}
