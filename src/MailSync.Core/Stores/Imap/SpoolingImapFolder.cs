using MailKit;
using MailKit.Net.Imap;

namespace MailSync.Core.Stores.Imap;

/// <summary>See <see cref="SpoolingImapClient"/>.</summary>
internal sealed class SpoolingImapFolder(ImapFolderConstructorArgs args, long spoolToDiskAbove) : ImapFolder(args)
{
    protected override Stream CreateStream(UniqueId? uid, string section, int offset, int length)
        => new DetachableStream(MessageSpool.Create(length, spoolToDiskAbove));
}
