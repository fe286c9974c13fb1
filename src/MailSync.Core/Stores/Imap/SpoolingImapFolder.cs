using MailKit;
using MailKit.Net.Imap;

namespace MailSync.Core.Stores.Imap;

/// <summary>See <see cref="SpoolingImapClient"/>.</summary>
internal sealed class SpoolingImapFolder(ImapFolderConstructorArgs args, long spoolToDiskAbove) : ImapFolder(args)
{
    // MailKit keeps the name as the server listed it (before decoding modified UTF-7) internal;
    // it is read only to tell a name MailKit had to guess at (raw 8-bit bytes, broken modified
    // UTF-7) from one it decoded. Null if a MailKit version no longer has it: nothing is reported then.
    private static readonly System.Reflection.PropertyInfo? EncodedName =
        typeof(ImapFolder).GetProperty("EncodedName", System.Reflection.BindingFlags.Instance | System.Reflection.BindingFlags.NonPublic);

    /// <summary>The folder's name as the server listed it, when MailKit keeps it.</summary>
    public string? ListedName => EncodedName?.GetValue(this) as string;

    protected override Stream CreateStream(UniqueId? uid, string section, int offset, int length)
        => new DetachableStream(MessageSpool.Create(length, spoolToDiskAbove));
}
