using MimeKit;
using MimeKit.IO;
using MimeKit.IO.Filters;

namespace MailSync.Core.Stores;

/// <summary>
/// A body that writes the original bytes back unchanged but for CRLF line endings. MailKit's
/// APPEND only takes a <see cref="MimeMessage"/>, and re-serialising a parsed MIME tree would
/// rewrite broken structures; this part carries the source's body verbatim instead.
/// </summary>
internal sealed class RawBodyPart : MimePart
{
    private static readonly byte[] Nothing = new byte[65536];
    private readonly Stream _content;
    private readonly bool _canonical;

    /// <param name="content">The body's bytes.</param>
    /// <param name="canonical">
    /// Every LF already follows a CR and the content ends with a line break (or is empty), so the
    /// CRLF filter would change nothing: the bytes are copied as they are, and measuring them
    /// (MailKit sizes every literal before sending it) costs nothing.
    /// </param>
    public RawBodyPart(Stream content, bool canonical = false)
    {
        _content = content;
        _canonical = canonical;
        // MimePart adds a default Content-Type; the real header lines come from the parsed source.
        Headers.Clear();
    }

    public override void WriteTo(FormatOptions options, Stream stream, bool contentOnly, CancellationToken cancellationToken = default)
    {
        // An empty body stays empty: "ensure a final newline" would otherwise add a blank line each time a message is copied.
        if (_content.Length == 0)
            return;
        _content.Position = 0;
        if (_canonical)
        {
            if (stream is MeasuringStream)
                Measure(stream, _content.Length);
            else
                _content.CopyTo(stream);
            return;
        }

        using var filtered = CreateFilter(stream);
        _content.CopyTo(filtered);
        filtered.Flush(cancellationToken);
    }

    public override async Task WriteToAsync(FormatOptions options, Stream stream, bool contentOnly, CancellationToken cancellationToken = default)
    {
        if (_content.Length == 0)
            return;
        _content.Position = 0;
        if (_canonical)
        {
            if (stream is MeasuringStream)
                Measure(stream, _content.Length);
            else
                await _content.CopyToAsync(stream, cancellationToken).ConfigureAwait(false);
            return;
        }

        using var filtered = CreateFilter(stream);
        await _content.CopyToAsync(filtered, cancellationToken).ConfigureAwait(false);
        await filtered.FlushAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>A measuring stream only counts: feed it the length without reading the content.</summary>
    private static void Measure(Stream measuring, long length)
    {
        for (var left = length; left > 0; left -= Nothing.Length)
            measuring.Write(Nothing, 0, (int)Math.Min(left, Nothing.Length));
    }

    private static FilteredStream CreateFilter(Stream stream)
    {
        var filtered = new FilteredStream(stream);
        filtered.Add(new Unix2DosFilter(ensureNewLine: true));
        return filtered;
    }
}
