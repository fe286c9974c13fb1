using MailKit;
using MimeKit;

namespace MailSync.Core.Stores;

/// <summary>One message to append: the message as MailKit wants it, with its flags, keywords and date.</summary>
public sealed record AppendItem(MimeMessage Message, MessageFlags Flags, IReadOnlyCollection<string> Keywords, DateTimeOffset InternalDate)
{
    /// <summary>Bytes on the wire, as measured when the message was prepared; sizes the command's time limit.</summary>
    public long Size { get; init; }

    /// <summary>The message holds NUL bytes: it goes as a binary literal (RFC 3516), which only a target offering BINARY takes.</summary>
    public bool Binary { get; init; }

    /// <summary>
    /// A bare LF, or no line break at the end: IMAP wants CRLF lines, and MailSync sends the bytes
    /// as the source served them all the same; said in the reason should the target refuse it.
    /// </summary>
    public bool NotCrlf { get; init; }
}
