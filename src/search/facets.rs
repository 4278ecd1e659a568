//! Facet counts over the documents a query matches — and only those: the collector runs inside
//! the same search as the hits, so the policy filter applies to it too. Counting term ordinals
//! of the string fast fields is far cheaper than tantivy's general aggregations.

use std::collections::BTreeMap;

use serde::Serialize;
use tantivy::collector::{Collector, SegmentCollector};
use tantivy::columnar::StrColumn;
use tantivy::{DocId, Score, SegmentOrdinal, SegmentReader};

/// Counts per value of each faceted field, over the visible documents a search matched.
#[derive(Clone, Debug, Default, Serialize, utoipa::ToSchema)]
pub struct Facets {
    pub classification: BTreeMap<String, u64>,
    pub tlp: BTreeMap<String, u64>,
    pub country: BTreeMap<String, u64>,
    pub language: BTreeMap<String, u64>,
    pub tag: BTreeMap<String, u64>,
}

/// The faceted fields, in the order of [`Facets`].
const FIELDS: [&str; 5] = ["classification", "tlp", "country", "language", "tag"];

pub struct FacetCollector;

pub struct FacetSegmentCollector {
    columns: Vec<Option<StrColumn>>,
    counts: Vec<Vec<u64>>,
}

type Counts = [BTreeMap<String, u64>; 5];

impl Collector for FacetCollector {
    type Fruit = Facets;
    type Child = FacetSegmentCollector;

    fn for_segment(&self, _: SegmentOrdinal, reader: &SegmentReader) -> tantivy::Result<Self::Child> {
        let mut columns = Vec::with_capacity(FIELDS.len());
        let mut counts = Vec::with_capacity(FIELDS.len());
        for field in FIELDS {
            let column = reader.fast_fields().str(field)?;
            counts.push(vec![0; column.as_ref().map_or(0, |c| c.num_terms())]);
            columns.push(column);
        }
        Ok(FacetSegmentCollector { columns, counts })
    }

    fn requires_scoring(&self) -> bool {
        false
    }

    fn merge_fruits(&self, segments: Vec<Counts>) -> tantivy::Result<Facets> {
        let mut total: Counts = Default::default();
        for segment in segments {
            for (into, from) in total.iter_mut().zip(segment) {
                for (key, count) in from {
                    *into.entry(key).or_default() += count;
                }
            }
        }
        let [classification, tlp, country, language, tag] = total;
        Ok(Facets { classification, tlp, country, language, tag })
    }
}

impl SegmentCollector for FacetSegmentCollector {
    type Fruit = Counts;

    fn collect(&mut self, doc: DocId, _: Score) {
        for (column, counts) in self.columns.iter().zip(self.counts.iter_mut()) {
            if let Some(column) = column {
                for ord in column.term_ords(doc) {
                    if let Some(count) = counts.get_mut(ord as usize) {
                        *count += 1;
                    }
                }
            }
        }
    }

    fn harvest(self) -> Counts {
        let mut out: Counts = Default::default();
        for ((column, counts), into) in self.columns.iter().zip(self.counts).zip(out.iter_mut()) {
            let Some(column) = column else { continue };
            for (ord, count) in counts.into_iter().enumerate().filter(|(_, n)| *n > 0) {
                let mut key = String::new();
                if column.ord_to_str(ord as u64, &mut key).unwrap_or(false) {
                    into.insert(key, count);
                }
            }
        }
        out
    }
}
