using System.Buffers;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using MimeKit;
using MimeKit.IO;

namespace MailSync.Core.Stores;

/// <summary>
/// Builds the <see cref="MimeMessage"/> that MailKit appends so that it writes the source's bytes
/// unchanged apart from CRLF line endings and a final newline. The header block is parsed (MimeKit
/// keeps every header's raw bytes, folding and invalid lines included) and the body is carried
/// verbatim by <see cref="RawBodyPart"/>, so broken MIME is never "repaired" on the way.
/// </summary>
public static class RawMessage
{
    /// <summary>How the message will be written; only <see cref="Shape.EmptyHeaderAdded"/> changes its bytes.</summary>
    public enum Shape
    {
        /// <summary>Header block, blank line, body: written verbatim (CRLF aside).</summary>
        Verbatim,

        /// <summary>No blank line ends the headers: written as they were, plus a final line break if missing.</summary>
        HeadersOnly,

        /// <summary>No parseable header at all: written as a body after an empty header block.</summary>
        EmptyHeaderAdded,
    }

    /// <summary>
    /// Wraps <paramref name="content"/> (seekable; read during APPEND, so keep it open until then).
    /// </summary>
    public static MimeMessage Create(Stream content, out Shape shape) => Create(content, canonical: false, out shape);

    /// <summary>
    /// As <see cref="Create(Stream, out Shape)"/>, for content already known to be canonical
    /// (<see cref="Scan"/>): its body is then copied without the CRLF filter.
    /// </summary>
    public static MimeMessage Create(Stream content, bool canonical, out Shape shape)
    {
        ArgumentNullException.ThrowIfNull(content);
        if (!content.CanSeek)
            throw new ArgumentException("the message stream must be seekable", nameof(content));

        var headerEnd = FindHeaderEnd(content);
        if (headerEnd > 0)
        {
            var parsed = TryParseHeaders(new BoundStream(content, 0, headerEnd, leaveOpen: true));
            if (parsed?.Body is { } parsedBody)
            {
                var body = new RawBodyPart(new BoundStream(content, headerEnd, -1, leaveOpen: true), canonical);
                // The parser puts Content-* lines on the body entity; keep them (with their original
                // offsets) so MimeKit writes every header line in its original order.
                foreach (var header in parsedBody.Headers)
                    body.Headers.Add(header);
                parsed.Body = body;
                shape = Shape.Verbatim;
                return parsed;
            }
        }

        // MimeKit ends a body-less header block with one line break of its own, so parse it
        // without its last line break: the message then comes back as it was.
        var headersOnly = headerEnd < 0 ? TryParseHeaders(new BoundStream(content, 0, content.Length - TrailingLineBreak(content), leaveOpen: true)) : null;
        if (headersOnly is not null)
        {
            // Everything is header: written back as it was, ending with a line break.
            headersOnly.Body = null;
            shape = Shape.HeadersOnly;
            return headersOnly;
        }

        // Not a message MimeKit can read headers from (empty, or garbage first line): send the bytes
        // as a body behind an empty header block rather than refuse the message.
        var message = new MimeMessage();
        message.Headers.Clear();
        message.Body = new RawBodyPart(new BoundStream(content, 0, -1, leaveOpen: true));
        shape = Shape.EmptyHeaderAdded;
        return message;
    }

    /// <summary>What one pass over a message's bytes tells before it is appended.</summary>
    /// <returns>
    /// Whether it holds a NUL byte (IMAP cannot append it without BINARY), and whether it is
    /// canonical: every LF follows a CR and it ends with a line break, so APPEND sends it unchanged.
    /// </returns>
    public static (bool HasNul, bool Canonical) Scan(Stream content)
    {
        // A spool in memory is scanned where it lies, without copying it block by block.
        if (content is MemoryStream memory && memory.TryGetBuffer(out var whole))
        {
            var bytes = whole.AsSpan(0, (int)memory.Length);
            if (bytes.Contains((byte)0))
                return (true, false);
            var canonicalHere = bytes.Length == 0
                || (bytes[0] != (byte)'\n' && !HasBareLineFeed(bytes) && bytes[^1] == (byte)'\n');
            return (false, canonicalHere);
        }

        content.Position = 0;
        var buffer = ArrayPool<byte>.Shared.Rent(65536 + 1);
        try
        {
            var canonical = true;
            // buffer[0] holds the previous block's last byte, so a CRLF split between blocks is seen;
            // a message starting with LF has no CR before it: start as if after a non-CR byte.
            buffer[0] = 0;
            long total = 0;
            int read;
            while ((read = content.Read(buffer, 1, 65536)) > 0)
            {
                var block = buffer.AsSpan(0, read + 1);
                if (block[1..].Contains((byte)0))
                    return (true, false);
                if (canonical && HasBareLineFeed(block))
                    canonical = false;
                buffer[0] = block[^1];
                total += read;
            }

            content.Position = 0;
            return (false, canonical && (total == 0 || buffer[0] == (byte)'\n'));
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>
    /// Whether some LF in <paramref name="block"/>[1..] does not follow a CR (block[0] is the byte
    /// before the block). Vectorised: most mail is text with short lines, and this runs on every byte.
    /// </summary>
    private static bool HasBareLineFeed(ReadOnlySpan<byte> block)
    {
        var i = 1;
        if (Vector256.IsHardwareAccelerated)
        {
            var lf = Vector256.Create((byte)'\n');
            var cr = Vector256.Create((byte)'\r');
            ref var start = ref MemoryMarshal.GetReference(block);
            for (; i + Vector256<byte>.Count <= block.Length; i += Vector256<byte>.Count)
            {
                var current = Vector256.LoadUnsafe(ref start, (nuint)i);
                var previous = Vector256.LoadUnsafe(ref start, (nuint)(i - 1));
                var bare = Vector256.Equals(current, lf) & ~Vector256.Equals(previous, cr);
                if (bare != Vector256<byte>.Zero)
                    return true;
            }
        }

        for (; i < block.Length; i++)
        {
            if (block[i] == (byte)'\n' && block[i - 1] != (byte)'\r')
                return true;
        }

        return false;
    }

    private static int TrailingLineBreak(Stream content)
    {
        var length = content.Length;
        if (length == 0)
            return 0;
        Span<byte> tail = stackalloc byte[2];
        var take = (int)Math.Min(2, length);
        content.Position = length - take;
        content.ReadExactly(tail[..take]);
        if (tail[take - 1] != (byte)'\n')
            return 0;
        return take == 2 && tail[0] == (byte)'\r' ? 2 : 1;
    }

    private static MimeMessage? TryParseHeaders(Stream stream)
    {
        try
        {
            return MimeMessage.Load(stream);
        }
        catch (FormatException)
        {
            return null;
        }
    }

    /// <summary>Offset just past the blank line that ends the header block, or -1 when there is none.</summary>
    internal static long FindHeaderEnd(Stream content)
    {
        content.Position = 0;
        var buffer = new byte[8192];
        long offset = 0;
        // State: 0 = inside a line, 1 = just after LF, 2 = just after LF then CR.
        var state = 1;
        int read;
        while ((read = content.Read(buffer, 0, buffer.Length)) > 0)
        {
            for (var i = 0; i < read; i++)
            {
                var b = buffer[i];
                if (b == (byte)'\n')
                {
                    if (state is 1 or 2)
                        return offset + i + 1;
                    state = 1;
                }
                else if (b == (byte)'\r' && state == 1)
                {
                    state = 2;
                }
                else
                {
                    state = 0;
                }
            }

            offset += read;
        }

        return -1;
    }
}
