using System.Buffers.Text;
using System.Text;

namespace MailSync.Core.Stores.Imap;

/// <summary>
/// Follows what a server sends, under MailKit, and stops it past the account's
/// <see cref="ServerLimits"/> before MailKit buffers it: a response longer than the line cap
/// (outside literals), a literal that is not a message body and is larger than the literal cap,
/// more untagged responses without data, or more folders, than one command may bring. It also
/// keeps each command's deadline: the account's timeout as a grace, plus one second per
/// <see cref="ServerLimits.MinBytesPerSecond"/> bytes moved either way since the command was
/// written, so a transfer may take as long as its bytes need and no longer, whatever size was
/// announced. Framing as IMAP defines it: a line ending in <c>{n}</c> (or <c>~{n}</c>) is followed
/// by n raw bytes, then more of the same response; a response starting with neither <c>*</c> nor
/// <c>+</c> is a command's tagged completion, which ends its window.
/// </summary>
/// <remarks>Not thread-safe: MailKit reads and writes a connection from one command at a time.</remarks>
internal sealed class ImapResponseGuard(ServerLimits limits, TimeSpan grace, TimeProvider time)
{
    private const int HeadBytes = 32;
    private const int TailBytes = 64;

    private readonly byte[] _head = new byte[HeadBytes];
    private readonly byte[] _tail = new byte[TailBytes];
    private int _headCount;
    private int _tailCount;
    private long _responseBytes;
    private long _literalLeft;

    private bool _commandOpen;
    private long _commandStarted;
    private long _commandBytes;
    private int _statusResponses;
    private int _folders;

    /// <summary>Bytes the client wrote: the first after a completion opens a new command's window.</summary>
    public void Wrote(int count)
    {
        if (!_commandOpen)
        {
            _commandOpen = true;
            _commandStarted = time.GetTimestamp();
            _commandBytes = 0;
            _statusResponses = 0;
            _folders = 0;
        }

        _commandBytes += count;
    }

    /// <summary>What is left of the open command's deadline; null when no command is waiting.</summary>
    public TimeSpan? Remaining()
    {
        if (!_commandOpen)
            return null;
        return Allowed() - time.GetElapsedTime(_commandStarted);
    }

    /// <summary>The open command's deadline so far.</summary>
    private TimeSpan Allowed() => grace + TimeSpan.FromSeconds((double)_commandBytes / Math.Max(1, limits.MinBytesPerSecond));

    /// <summary>Why the open command was cut when its deadline passed.</summary>
    public string TooSlow()
        => $"the server moved only {_commandBytes:N0} bytes for one command in {Allowed().TotalSeconds:0} s (the account's timeout plus one second per {limits.MinBytesPerSecond:N0} bytes moved)";

    /// <summary>Bytes the server sent; throws <see cref="ServerMisbehavedException"/> past a limit.</summary>
    public void Read(ReadOnlySpan<byte> data)
    {
        if (_commandOpen)
            _commandBytes += data.Length;
        while (!data.IsEmpty)
        {
            if (_literalLeft > 0)
            {
                var take = (int)Math.Min(_literalLeft, data.Length);
                _literalLeft -= take;
                data = data[take..];
                continue;
            }

            var lf = data.IndexOf((byte)'\n');
            var chunk = lf < 0 ? data : data[..(lf + 1)];
            Keep(chunk);
            _responseBytes += chunk.Length;
            if (_responseBytes > limits.ResponseLineBytes)
                throw new ServerMisbehavedException(
                    $"the server sent a response line longer than {limits.ResponseLineBytes:N0} bytes (maxResponseLineBytes){Sample()}");
            data = data[chunk.Length..];
            if (lf >= 0)
                EndOfLine();
        }
    }

    private void Keep(ReadOnlySpan<byte> chunk)
    {
        if (_headCount < HeadBytes)
        {
            var n = Math.Min(HeadBytes - _headCount, chunk.Length);
            chunk[..n].CopyTo(_head.AsSpan(_headCount));
            _headCount += n;
        }

        if (chunk.Length >= TailBytes)
        {
            chunk[^TailBytes..].CopyTo(_tail);
            _tailCount = TailBytes;
            return;
        }

        var keep = Math.Min(_tailCount, TailBytes - chunk.Length);
        _tail.AsSpan(_tailCount - keep, keep).CopyTo(_tail);
        chunk.CopyTo(_tail.AsSpan(keep));
        _tailCount = keep + chunk.Length;
    }

    /// <summary>A line ended: either a literal follows (same response) or the response is complete.</summary>
    private void EndOfLine()
    {
        var tail = _tail.AsSpan(0, _tailCount);
        if (LiteralLength(tail, out var length, out var before))
        {
            if (length > limits.LiteralBytes && !IsMessageBody(before))
                throw new ServerMisbehavedException(
                    $"the server announced a {length:N0}-byte literal where no message body is expected (maxLiteralBytes is {limits.LiteralBytes:N0}){Sample()}");
            _literalLeft = length;
            _tailCount = 0;
            return;
        }

        Completed(_head.AsSpan(0, _headCount));
        _headCount = 0;
        _tailCount = 0;
        _responseBytes = 0;
    }

    private void Completed(ReadOnlySpan<byte> head)
    {
        if (head.IsEmpty || head[0] == (byte)'+')
            return;
        if (head[0] != (byte)'*')
        {
            // A tagged completion: the command's window ends.
            _commandOpen = false;
            return;
        }

        var words = head[1..].TrimStart((byte)' ');
        var end = words.IndexOfAny((byte)' ', (byte)'\r');
        var word = end < 0 ? words : words[..end];
        if (!word.IsEmpty && word[0] is >= (byte)'0' and <= (byte)'9')
            return; // "* n EXISTS|EXPUNGE|FETCH|RECENT": data
        if (word.SequenceEqual("LIST"u8) || word.SequenceEqual("LSUB"u8))
        {
            if (++_folders > limits.Folders)
                throw new ServerMisbehavedException(
                    $"the server lists more than {limits.Folders:N0} folders (maxFolders; raise it in the account if the account really has that many)");
            return;
        }

        if (IsData(word))
            return;
        if (++_statusResponses > limits.StatusResponsesPerCommand)
            throw new ServerMisbehavedException(
                $"the server sent more than {limits.StatusResponsesPerCommand:N0} untagged responses without data to one command, without answering it{Sample()}");
    }

    private static bool IsData(ReadOnlySpan<byte> word)
    {
        foreach (var known in DataResponses)
        {
            if (word.Length == known.Length && Ascii.EqualsIgnoreCase(word, known))
                return true;
        }

        return false;
    }

    private static readonly byte[][] DataResponses =
        [.. new[] { "CAPABILITY", "FLAGS", "SEARCH", "ESEARCH", "STATUS", "NAMESPACE", "ENABLED", "ID", "VANISHED", "SORT", "THREAD", "QUOTA", "QUOTAROOT", "METADATA", "ACL", "MYRIGHTS", "LISTRIGHTS" }
            .Select(Encoding.ASCII.GetBytes)];

    /// <summary>Whether a line ends in a literal header "{n}" or "~{n}" (with "+" tolerated), and the text before it.</summary>
    private static bool LiteralLength(ReadOnlySpan<byte> line, out long length, out ReadOnlySpan<byte> before)
    {
        length = 0;
        before = default;
        // CRLF, or a bare LF from a sloppy server (MailKit accepts both): a missed literal would
        // have its bytes counted as a line.
        var end = line.EndsWith("}\r\n"u8) ? 3 : line.EndsWith("}\n"u8) ? 2 : 0;
        if (end == 0)
            return false;
        var open = line.LastIndexOf((byte)'{');
        if (open < 0)
            return false;
        var digits = line[(open + 1)..^end];
        if (digits.EndsWith("+"u8))
            digits = digits[..^1];
        if (digits.IsEmpty || digits.Length > 19 || !Utf8Parser.TryParse(digits, out length, out var used) || used != digits.Length || length < 0)
            return false;
        before = line[..open];
        if (before.EndsWith("~"u8))
            before = before[..^1];
        return true;
    }

    /// <summary>Whether the literal announced after <paramref name="before"/> is a message's bytes (spooled, never held in memory whole).</summary>
    private static bool IsMessageBody(ReadOnlySpan<byte> before)
    {
        var text = before.TrimEnd((byte)' ');
        // A partial fetch ends in "<origin>".
        if (text.EndsWith(">"u8) && text.LastIndexOf((byte)'<') is var lt and >= 0)
            text = text[..lt];
        return EndsWithIgnoreCase(text, "BODY[]"u8) || EndsWithIgnoreCase(text, "BINARY[]"u8) || EndsWithIgnoreCase(text, "RFC822"u8) || EndsWithIgnoreCase(text, "BODY[TEXT]"u8);
    }

    private static bool EndsWithIgnoreCase(ReadOnlySpan<byte> text, ReadOnlySpan<byte> suffix)
        => text.Length >= suffix.Length && Ascii.EqualsIgnoreCase(text[^suffix.Length..], suffix);

    /// <summary>The start of the offending response, escaped, for the message.</summary>
    private string Sample()
    {
        var head = _head.AsSpan(0, Math.Min(_headCount, HeadBytes));
        return head.IsEmpty ? string.Empty : $"; it began: {ServerText.Escape(head)}";
    }
}
