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
    private readonly Stream _content;

    public RawBodyPart(Stream content)
    {
        _content = content;
        // MimePart adds a default Content-Type; the real header lines come from the parsed source.
        Headers.Clear();
    }

    public override void WriteTo(FormatOptions options, Stream stream, bool contentOnly, CancellationToken cancellationToken = default)
    {
        // An empty body stays empty: "ensure a final newline" would otherwise add a blank line each time a message is copied.
        if (_content.Length == 0)
            return;
        using var filtered = CreateFilter(stream);
        _content.Position = 0;
        _content.CopyTo(filtered);
        filtered.Flush(cancellationToken);
    }

    public override async Task WriteToAsync(FormatOptions options, Stream stream, bool contentOnly, CancellationToken cancellationToken = default)
    {
        if (_content.Length == 0)
            return;
        using var filtered = CreateFilter(stream);
        _content.Position = 0;
        await _content.CopyToAsync(filtered, cancellationToken).ConfigureAwait(false);
        await filtered.FlushAsync(cancellationToken).ConfigureAwait(false);
    }

    private static FilteredStream CreateFilter(Stream stream)
    {
        var filtered = new FilteredStream(stream);
        filtered.Add(new Unix2DosFilter(ensureNewLine: true));
        return filtered;
    }
}
