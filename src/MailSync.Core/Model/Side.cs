namespace MailSync.Core.Model;

/// <summary>
/// The two sides of a job, as an index rather than two code paths (isync's <c>uid[2]</c>): A is the
/// job's "source", B its "target". Migrate and backup write only to B; two-way sync writes to both.
/// </summary>
public enum Side
{
    A,
    B,
}

/// <summary>One value per side.</summary>
public readonly record struct Sides<T>(T A, T B)
{
    public T this[Side side] => side == Side.A ? A : B;

    /// <summary>The same values with the sides swapped: what a mirrored scenario expects.</summary>
    public Sides<T> Swapped => new(B, A);
}

public static class SideExtensions
{
    public static Side Other(this Side side) => side == Side.A ? Side.B : Side.A;
}
