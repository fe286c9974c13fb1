using System.Buffers;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using MimeKit;
using MimeKit.IO;
using MimeKit.Utils;

namespace MailSync.Core.Stores;

/// <summary>
/// What MailSync reads from a message's raw bytes without ever changing them (the bytes appended
/// are the bytes the source served, <see cref="VerbatimMessage"/>): whether they can be appended at
/// all, and the header lines that identify and date the message, read tolerantly.
/// </summary>
public static class RawMessage
{
    /// <summary>Header blocks are read up to this size: a message that is all header (or garbage) must not be parsed whole.</summary>
    private const int MaxHeaderBytes = 1 << 20;

    /// <summary>What one pass over a message's bytes tells before it is appended.</summary>
    /// <returns>
    /// Whether it holds a NUL byte (IMAP cannot append it without BINARY), and whether it is
    /// canonical: every LF follows a CR and it ends with a line break. Either way it is appended
    /// unchanged; a target that refuses a message that is not canonical is told about in its reason.
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

    /// <summary>
    /// The header lines of the message in <paramref name="content"/>, read tolerantly: an mbox
    /// "From " line before them is passed over, the block ends at the first blank line (or at
    /// <see cref="MaxHeaderBytes"/>), and a block MimeKit cannot read at all gives an empty list
    /// rather than an error. For identity and dates only; nothing here is written to the target.
    /// </summary>
    public static HeaderList ReadHeaders(Stream content)
    {
        ArgumentNullException.ThrowIfNull(content);
        var end = FindHeaderEnd(content);
        var length = end < 0 ? Math.Min(content.Length, MaxHeaderBytes) : Math.Min(end, MaxHeaderBytes);
        var start = FromLineLength(content, length);
        try
        {
            return HeaderList.Load(ParserOptions.Default, new BoundStream(content, start, length, leaveOpen: true));
        }
        catch (FormatException)
        {
            return [];
        }
        finally
        {
            content.Position = 0;
        }
    }

    /// <summary>The Message-ID in <paramref name="headers"/> without its angle brackets, or null.</summary>
    public static string? MessageId(HeaderList headers)
    {
        var index = headers.IndexOf(HeaderId.MessageId);
        if (index < 0)
            return null;
        var header = headers[index];
        var raw = header.RawValue;
        var parsed = MimeUtils.ParseMessageId(raw, 0, raw.Length);
        var id = parsed ?? header.Value.Trim().Trim('<', '>');
        return string.IsNullOrWhiteSpace(id) ? null : id;
    }

    /// <summary>
    /// A hash of a header block: every line's raw field and value in order, so the same header
    /// bytes give the same hash whichever side served them (line endings aside).
    /// </summary>
    public static string HashOf(HeaderList headers)
    {
        using var hash = System.Security.Cryptography.IncrementalHash.CreateHash(System.Security.Cryptography.HashAlgorithmName.SHA256);
        foreach (var header in headers)
        {
            hash.AppendData(header.RawField);
            hash.AppendData(":"u8);
            hash.AppendData(header.RawValue);
        }

        return Convert.ToHexString(hash.GetHashAndReset());
    }

    /// <summary>Length of a leading mbox "From " line (with its line break), else 0.</summary>
    private static long FromLineLength(Stream content, long limit)
    {
        content.Position = 0;
        Span<byte> first = stackalloc byte[5];
        if (limit < 5 || content.Read(first) < 5 || !first.SequenceEqual("From "u8))
            return 0;
        long offset = 5;
        int b;
        while (offset < limit && (b = content.ReadByte()) >= 0)
        {
            offset++;
            if (b == '\n')
                return offset;
        }

        return 0;
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
