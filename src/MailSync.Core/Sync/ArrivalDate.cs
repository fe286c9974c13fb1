using MimeKit;
using MimeKit.Utils;

namespace MailSync.Core.Sync;

/// <summary>
/// Chooses the INTERNALDATE for a message that comes without one (POP3): the newest parseable
/// Received: date, else Date:, else the time of retrieval. Dates more than a day after the
/// retrieval are a sender's or relay's broken clock and are not "parseable" for this purpose.
/// </summary>
public static class ArrivalDate
{
    private static readonly DateTimeOffset Earliest = new(1971, 1, 1, 0, 0, 0, TimeSpan.Zero);

    public static (DateTimeOffset Date, ArrivalDateSource Source) Choose(HeaderList headers, DateTimeOffset retrievedAt)
    {
        var latest = retrievedAt.AddDays(1);
        DateTimeOffset? newest = null;
        foreach (var header in headers)
        {
            if (header.Id != HeaderId.Received)
                continue;
            // RFC 5321 §4.4: the date-time follows the last ";" of the trace line.
            var value = header.Value;
            var semicolon = value.LastIndexOf(';');
            if (semicolon < 0)
                continue;
            if (DateUtils.TryParse(value[(semicolon + 1)..], out var date) && Plausible(date, latest) && (newest is null || date > newest))
                newest = date;
        }

        if (newest is { } received)
            return (received, ArrivalDateSource.Received);
        if (headers[HeaderId.Date] is { } text && DateUtils.TryParse(text, out var sent) && Plausible(sent, latest))
            return (sent, ArrivalDateSource.Date);
        return (retrievedAt, ArrivalDateSource.Retrieval);
    }

    private static bool Plausible(DateTimeOffset date, DateTimeOffset latest) => date >= Earliest && date <= latest;
}
