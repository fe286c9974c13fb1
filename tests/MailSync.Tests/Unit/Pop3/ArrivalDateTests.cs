using System.Text;
using MailSync.Core.Sync;
using MimeKit;

namespace MailSync.Tests.Unit.Pop3;

public sealed class ArrivalDateTests
{
    private static readonly DateTimeOffset Retrieved = new(2026, 11, 22, 12, 0, 0, TimeSpan.Zero);

    private static HeaderList Headers(string block)
        => HeaderList.Load(new MemoryStream(Encoding.ASCII.GetBytes(block.ReplaceLineEndings("\r\n") + "\r\n")));

    [Fact]
    public void The_newest_Received_date_wins_whatever_its_position()
    {
        var headers = Headers("""
            Received: from a by b; Tue, 3 Jun 2008 11:05:30 +0200
            Received: from c by d; Tue, 3 Jun 2008 11:07:02 +0200 (CEST)
            Received: from e by f; Tue, 3 Jun 2008 11:04:00 +0200
            Date: Mon, 2 Jun 2008 09:00:00 +0000
            """);
        var (date, source) = ArrivalDate.Choose(headers, Retrieved);
        Assert.Equal(ArrivalDateSource.Received, source);
        Assert.Equal(new DateTimeOffset(2008, 6, 3, 11, 7, 2, TimeSpan.FromHours(2)), date);
        Assert.Equal(TimeSpan.FromHours(2), date.Offset);
    }

    [Fact]
    public void A_folded_Received_header_is_read_after_its_last_semicolon()
    {
        var headers = Headers("Received: from mx.example.org (mx.example.org [192.0.2.1])\n\tby mail.example.com with ESMTPS id abc; for <x@example.com>;\n\tWed, 15 Jan 2020 08:30:00 -0500");
        var (date, source) = ArrivalDate.Choose(headers, Retrieved);
        Assert.Equal(ArrivalDateSource.Received, source);
        Assert.Equal(new DateTimeOffset(2020, 1, 15, 13, 30, 0, TimeSpan.Zero), date.ToUniversalTime());
    }

    [Fact]
    public void Unparseable_Received_headers_fall_back_to_Date()
    {
        var headers = Headers("""
            Received: from a by b with SMTP id 12345
            Received: from a by b; yesterday at noon
            Date: Fri, 21 Nov 1997 09:55:06 -0600
            """);
        var (date, source) = ArrivalDate.Choose(headers, Retrieved);
        Assert.Equal(ArrivalDateSource.Date, source);
        Assert.Equal(new DateTimeOffset(1997, 11, 21, 9, 55, 6, TimeSpan.FromHours(-6)), date);
    }

    [Fact]
    public void A_Received_date_far_in_the_future_is_a_broken_clock_and_ignored()
    {
        var headers = Headers("""
            Received: from a by b; Thu, 1 Jan 2099 00:00:00 +0000
            Received: from c by d; Sat, 22 Nov 2025 10:00:00 +0000
            """);
        var (date, source) = ArrivalDate.Choose(headers, Retrieved);
        Assert.Equal(ArrivalDateSource.Received, source);
        Assert.Equal(new DateTimeOffset(2025, 11, 22, 10, 0, 0, TimeSpan.Zero), date);
    }

    [Fact]
    public void Without_usable_headers_the_retrieval_time_is_used()
    {
        var headers = Headers("""
            Subject: no dates here
            Date: not a date
            """);
        Assert.Equal((Retrieved, ArrivalDateSource.Retrieval), ArrivalDate.Choose(headers, Retrieved));
        Assert.Equal((Retrieved, ArrivalDateSource.Retrieval), ArrivalDate.Choose([], Retrieved));
    }
}
