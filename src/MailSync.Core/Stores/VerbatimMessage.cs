using MimeKit;
using MimeKit.IO;

namespace MailSync.Core.Stores;

/// <summary>
/// Wraps a message's bytes in the <see cref="MimeMessage"/> that MailKit's APPEND takes, so that
/// MailKit writes (and measures, for the literal's length) exactly those bytes: no header parsed and
/// written again, no line ending changed, no final newline added, an mbox "From " line or a message
/// without a header block kept as it is.
/// </summary>
/// <remarks>
/// Why this shape: <see cref="MimeMessage.WriteTo(FormatOptions, Stream, bool, CancellationToken)"/>
/// is not virtual. It writes the merged headers of the message and its body (none here), then the
/// blank line that ends them unless the message is in loose compliance mode and its body's header
/// list has no body separator, then the body with <c>contentOnly</c>. Only MimeKit's parser can
/// make such a message, and only <see cref="ExperimentalMimeParser"/> records a missing separator,
/// so the wrapper is parsed from a one-line stub whose body is created as <see cref="VerbatimBody"/>
/// (registered for the stub's default content type), and that body writes the source's bytes.
/// Parsing the stub costs a few microseconds per message; the message bytes are never parsed.
/// </remarks>
public static class VerbatimMessage
{
    // "text/plain" is what a header block without Content-Type gives the body: the stub has none.
    private static readonly ParserOptions StubOptions = CreateStubOptions();
    private static readonly byte[] Stub = "X-Stub: 1"u8.ToArray();

    /// <summary>
    /// The message MailKit will append as <paramref name="content"/>'s bytes, from position 0 to its
    /// end. The stream must be seekable and stay open until the APPEND is done (it is read when
    /// MailKit measures the literal and again when it sends it); it is not disposed here.
    /// </summary>
    public static MimeMessage Create(Stream content)
    {
        ArgumentNullException.ThrowIfNull(content);
        if (!content.CanSeek)
            throw new ArgumentException("the message stream must be seekable", nameof(content));

        using var stub = new MemoryStream(Stub, writable: false);
        var message = new ExperimentalMimeParser(StubOptions, stub, MimeFormat.Entity).ParseMessage();
        message.Headers.Clear();
        if (message.Body is not VerbatimBody body || body.Headers.Count != 0)
            throw new InvalidOperationException("MimeKit no longer builds the verbatim wrapper as expected; appending would change messages");
        body.Bytes = content;
        return message;
    }

    private static ParserOptions CreateStubOptions()
    {
        var options = ParserOptions.Default.Clone();
        options.RegisterMimeType("text/plain", typeof(VerbatimBody));
        return options;
    }
}

/// <summary>
/// The body of a <see cref="VerbatimMessage"/>: writes <see cref="Bytes"/> unchanged, whatever the
/// format options say (MailKit asks for CRLF and a final newline; the source's bytes already are
/// what the target must hold). Created only by MimeKit's parser for <see cref="VerbatimMessage"/>.
/// </summary>
internal sealed class VerbatimBody : MimePart
{
    private static readonly byte[] Nothing = new byte[65536];

    /// <summary>Called by MimeKit's parser (a registered MIME type needs this public constructor).</summary>
    public VerbatimBody(MimeEntityConstructorArgs args) : base(args)
    {
    }

    /// <summary>The bytes written; seekable, read from position 0 each time.</summary>
    public Stream Bytes { get; set; } = Stream.Null;

    public override void WriteTo(FormatOptions options, Stream stream, bool contentOnly, CancellationToken cancellationToken = default)
    {
        if (stream is MeasuringStream)
        {
            Measure(stream, Bytes.Length);
            return;
        }

        Bytes.Position = 0;
        Bytes.CopyTo(stream);
    }

    public override async Task WriteToAsync(FormatOptions options, Stream stream, bool contentOnly, CancellationToken cancellationToken = default)
    {
        if (stream is MeasuringStream)
        {
            Measure(stream, Bytes.Length);
            return;
        }

        Bytes.Position = 0;
        await Bytes.CopyToAsync(stream, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>A measuring stream only counts (MailKit measures every literal before sending it): feed it the length without reading the content.</summary>
    private static void Measure(Stream measuring, long length)
    {
        for (var left = length; left > 0; left -= Nothing.Length)
            measuring.Write(Nothing, 0, (int)Math.Min(left, Nothing.Length));
    }
}
