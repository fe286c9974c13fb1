using MailSync.Core.Stores;

namespace MailSync.Tests.Unit.Stores;

/// <summary>
/// <see cref="DetachableStream"/> and <see cref="MessageSpool.TakeAsync"/>: the engine takes over
/// the spool MailKit filled instead of copying it, and MailKit's dispose of the wrapper must then
/// leave it alone.
/// </summary>
public sealed class DetachableStreamTests
{
    private static readonly byte[] Content = "Subject: x\r\n\r\nbody\r\n"u8.ToArray();

    [Fact]
    public void Disposing_after_Detach_leaves_the_inner_stream_open_and_rewound()
    {
        var inner = Filled();
        var wrapper = new DetachableStream(inner);

        var taken = wrapper.Detach();
        wrapper.Dispose();

        Assert.Same(inner, taken);
        Assert.True(taken.CanRead, "the detached stream was closed by the wrapper's dispose");
        Assert.Equal(0, taken.Position);
        Assert.Equal(Content, ReadAll(taken));
    }

    [Fact]
    public void Disposing_without_Detach_disposes_the_inner_stream()
    {
        var inner = Filled();
        var wrapper = new DetachableStream(inner);

        wrapper.Dispose();

        Assert.False(inner.CanRead);
        Assert.Throws<ObjectDisposedException>(() => inner.ReadByte());
    }

    [Fact]
    public void After_Detach_the_wrapper_refuses_use()
    {
        var wrapper = new DetachableStream(Filled());

        using var taken = wrapper.Detach();

        Assert.Throws<ObjectDisposedException>(() => wrapper.Length);
        Assert.Throws<ObjectDisposedException>(() => wrapper.ReadByte());
        Assert.Throws<ObjectDisposedException>(() => wrapper.Detach());
    }

    [Fact]
    public void The_wrapper_reads_writes_and_seeks_through_to_the_inner_stream()
    {
        var inner = new MemoryStream();
        using var wrapper = new DetachableStream(inner);

        wrapper.Write(Content, 0, Content.Length);
        wrapper.Position = 0;

        Assert.Equal(Content.Length, wrapper.Length);
        Assert.Equal(Content, ReadAll(wrapper));
        Assert.Equal(Content, inner.ToArray());
    }

    [Fact]
    public async Task TakeAsync_takes_over_a_detachable_stream_without_copying()
    {
        var inner = Filled();
        var wrapper = new DetachableStream(inner);

        var spool = await MessageSpool.TakeAsync(wrapper, Content.Length, spoolToDiskAbove: 1, CancellationToken.None);
        // MailKit disposes the stream it handed to the callback once the callback returns.
        await wrapper.DisposeAsync();

        Assert.Same(inner, spool);
        Assert.Equal(0, spool.Position);
        Assert.Equal(Content, ReadAll(spool));
        await spool.DisposeAsync();
    }

    [Fact]
    public async Task TakeAsync_copies_a_plain_stream_into_memory_below_the_threshold()
    {
        using var plain = new MemoryStream(Content, writable: false);

        await using var spool = await MessageSpool.TakeAsync(plain, Content.Length, spoolToDiskAbove: 1024, CancellationToken.None);

        Assert.NotSame(plain, spool);
        Assert.IsType<MemoryStream>(spool);
        Assert.Equal(0, spool.Position);
        Assert.Equal(Content, ReadAll(spool));
        Assert.True(plain.CanRead, "the caller's stream is the caller's to dispose");
    }

    [Fact]
    public async Task TakeAsync_copies_a_plain_stream_into_a_temporary_file_above_the_threshold_and_the_file_goes_with_the_stream()
    {
        var big = new byte[100_000];
        new Random(5).NextBytes(big);
        using var plain = new MemoryStream(big, writable: false);

        var spool = await MessageSpool.TakeAsync(plain, big.Length, spoolToDiskAbove: 64 * 1024, CancellationToken.None);

        var file = Assert.IsType<FileStream>(spool);
        Assert.True(File.Exists(file.Name));
        Assert.Equal(0, spool.Position);
        Assert.Equal(big, ReadAll(spool));
        await spool.DisposeAsync();
        Assert.False(File.Exists(file.Name), "the spool file outlived its stream");
    }

    [Fact]
    public void Create_picks_memory_up_to_the_threshold_and_a_file_above_it()
    {
        using var atThreshold = MessageSpool.Create(64 * 1024, 64 * 1024);
        using var above = MessageSpool.Create((64 * 1024) + 1, 64 * 1024);

        Assert.IsAssignableFrom<MemoryStream>(atThreshold);
        Assert.IsType<FileStream>(above);
    }

    private static MemoryStream Filled()
    {
        var stream = new MemoryStream();
        stream.Write(Content);
        // Left at the end, as MailKit leaves a stream it has just filled.
        return stream;
    }

    private static byte[] ReadAll(Stream stream)
    {
        using var copy = new MemoryStream();
        stream.CopyTo(copy);
        return copy.ToArray();
    }
}
