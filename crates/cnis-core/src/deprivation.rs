//! Deprivation deciles of the English Indices of Deprivation.

/// An IMD (or IDACI) decile: 1 is the most deprived tenth of neighbourhoods.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ImdDecile(u8);

impl ImdDecile {
    /// Decile 5.
    pub const MIDDLE: ImdDecile = ImdDecile(5);

    /// A decile from 1 to 10.
    pub fn new(d: u8) -> Option<Self> {
        (1..=10).contains(&d).then_some(ImdDecile(d))
    }

    /// The decile number.
    pub fn get(self) -> u8 {
        self.0
    }

    /// Deciles 1-5: "the more deprived half of neighbourhoods".
    pub fn more_deprived_half(self) -> bool {
        self.0 <= 5
    }
}

/// The decile of a rank among `n` areas: `ceil(rank * 10 / n)`.
pub fn decile_from_rank(rank: u32, n: u32) -> Option<ImdDecile> {
    if rank == 0 || rank > n {
        return None;
    }
    let d = (u64::from(rank) * 10).div_ceil(u64::from(n));
    ImdDecile::new(d as u8)
}
