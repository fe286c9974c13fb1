using MailKit;
using MailKit.Net.Imap;

namespace MailSync.Core.Stores.Imap;

/// <summary>
/// An <see cref="ImapClient"/> whose folders write fetched bodies straight into a spool the
/// engine can keep (<see cref="DetachableStream"/>): memory below the threshold, a temporary
/// file above it. MailKit's default buffers every literal in memory, whatever its size.
/// </summary>
internal sealed class SpoolingImapClient(IProtocolLogger protocolLogger, long spoolToDiskAbove) : ImapClient(protocolLogger)
{
    /// <summary>The connection under this client, set once connected (<see cref="ImapTransport"/>).</summary>
    public ImapWire? Wire { get; set; }

    protected override ImapFolder CreateImapFolder(ImapFolderConstructorArgs args) => new SpoolingImapFolder(args, spoolToDiskAbove);
}
