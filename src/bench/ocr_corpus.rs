//! The OCR corpus: pages of strategic-analysis prose in each of the network's languages,
//! drawn with DejaVu Sans at 36 px on a 300-dpi A4 width, clean and degraded the ways office
//! scans and faxes are — generated, so that the same seed gives the same pixels everywhere and
//! nothing is downloaded. `anaspoc bench --ocr` and the OCR tests read these pages.

use std::path::Path;

use ab_glyph::{Font, FontArc, PxScale, ScaleFont};
use image::imageops::FilterType;
use image::{GrayImage, ImageFormat, Luma};
use imageproc::contrast::{ThresholdType, threshold};
use imageproc::geometric_transformations::{Border, Interpolation, rotate_about_center};
use imageproc::noise::{gaussian_noise_mut, salt_and_pepper_noise_mut};

/// Debian `fonts-dejavu-core`.
pub const FONT_PATH: &str = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf";
/// A4 at 300 dpi, its margins, and the text size of the pages (about 8.5 pt).
const PAGE_WIDTH: u32 = 2480;
const MARGIN: u32 = 200;
const FONT_PX: f32 = 36.0;

/// One language's source text: paragraphs separated by newlines.
pub struct Sample {
    /// BCP 47, as an uploader sets it.
    pub language: &'static str,
    pub label: &'static str,
    pub text: &'static str,
}

pub const SAMPLES: [Sample; 8] = [
    Sample {
        language: "sq",
        label: "Albanian",
        text: "Analiza strategjike e vitit të kaluar tregon se grupet kriminale në rajon përdorin gjithnjë e më shumë rrugët detare përmes porteve të Durrësit dhe Vlorës. Kontrabanda e kokainës nga Amerika e Jugut kalon shpesh në kontejnerë me fruta tropikale.\n\
Hetuesit vërejnë se fitimet pastrohen përmes kompanive të ndërtimit dhe agjencive të këmbimit valutor. Bashkëpunimi me Serbinë, Kosovën dhe Maqedoninë e Veriut është thelbësor për të ndjekur flukset financiare.\n\
Rekomandohet që njësitë e analizës të ndajnë çdo muaj të dhëna mbi sekuestrimet, emrat e anijeve dhe llogaritë bankare të dyshimta, në përputhje me rregullat e mbrojtjes së të dhënave.",
    },
    Sample {
        language: "sr-Cyrl",
        label: "Serbian (Cyrillic)",
        text: "Стратешка анализа за претходну годину показује да криминалне групе на Западном Балкану све чешће користе такозвану балканску руту за кријумчарење оружја и дроге. Највећи део пошиљки прелази границу код Прешева и Шида.\n\
Истражитељи уочавају да се новац пере преко грађевинских фирми, мењачница и лажних консултантских уговора. Сарадња са Хрватском, Босном и Херцеговином и Северном Македонијом је од кључног значаја.\n\
Препоручује се да аналитичке јединице сваког месеца размењују податке о запленама, возилима и сумњивим банковним рачунима, уз поштовање правила о заштити података о личности.",
    },
    Sample {
        language: "sr-Latn",
        label: "Serbian (Latin)",
        text: "Strateška analiza za prethodnu godinu pokazuje da kriminalne grupe na Zapadnom Balkanu sve češće koriste takozvanu balkansku rutu za krijumčarenje oružja i droge. Najveći deo pošiljki prelazi granicu kod Preševa i Šida.\n\
Istražitelji uočavaju da se novac pere preko građevinskih firmi, menjačnica i lažnih konsultantskih ugovora. Saradnja sa Hrvatskom, Bosnom i Hercegovinom i Severnom Makedonijom je od ključnog značaja.\n\
Preporučuje se da analitičke jedinice svakog meseca razmenjuju podatke o zaplenama, vozilima i sumnjivim bankovnim računima, uz poštovanje pravila o zaštiti podataka o ličnosti.",
    },
    // Serbian as it is often written: a Cyrillic paragraph beside Latin ones, uploaded as `sr`.
    Sample {
        language: "sr",
        label: "Serbian (both scripts)",
        text: "Извештај о кријумчарењу цигарета преко граничних прелаза Хоргош и Бездан показује да су заплене у другом кварталу порасле за трећину.\n\
Podaci carinske uprave ukazuju da se roba najčešće krije u kamionima sa građevinskim materijalom. Vozači su uglavnom državljani Srbije i Mađarske.\n\
Preporučuje se pojačana kontrola noću i razmena podataka sa mađarskom policijom u realnom vremenu.",
    },
    Sample {
        language: "mk",
        label: "Macedonian",
        text: "Стратешката анализа за изминатата година покажува дека криминалните групи во регионот сè почесто ја користат рутата преку Куманово и Гевгелија за шверц на мигранти и оружје. Пратките најчесто се скриени во товарни возила.\n\
Истражителите забележуваат дека парите се перат преку градежни фирми, менувачници и лажни договори за консултантски услуги. Соработката со Србија, Косово и Албанија е од клучно значење.\n\
Се препорачува аналитичките единици секој месец да разменуваат податоци за запленувањата, возилата и сомнителните банкарски сметки, во согласност со правилата за заштита на личните податоци.",
    },
    Sample {
        language: "bs",
        label: "Bosnian",
        text: "Strateška analiza za proteklu godinu pokazuje da kriminalne grupe u regiji sve češće koriste rutu preko Bihaća i Zvornika za krijumčarenje migranata i oružja. Pošiljke su najčešće skrivene u teretnim vozilima.\n\
Istražitelji primjećuju da se novac pere putem građevinskih firmi, mjenjačnica i lažnih ugovora o konsultantskim uslugama. Saradnja sa Srbijom, Hrvatskom i Crnom Gorom je od ključnog značaja.\n\
Preporučuje se da analitičke jedinice svakog mjeseca razmjenjuju podatke o zapljenama, vozilima i sumnjivim bankovnim računima, uz poštivanje pravila o zaštiti ličnih podataka.",
    },
    Sample {
        language: "hr",
        label: "Croatian",
        text: "Strateška analiza za proteklu godinu pokazuje da kriminalne skupine u regiji sve češće koriste pomorske rute preko luka Rijeka i Ploče za krijumčarenje kokaina. Pošiljke su najčešće skrivene u kontejnerima s voćem.\n\
Istražitelji uočavaju da se novac pere putem građevinskih tvrtki, mjenjačnica i lažnih ugovora o savjetodavnim uslugama. Suradnja sa Srbijom, Bosnom i Hercegovinom te Crnom Gorom od ključne je važnosti.\n\
Preporučuje se da analitičke jedinice svakoga mjeseca razmjenjuju podatke o zapljenama, plovilima i sumnjivim bankovnim računima, uz poštivanje pravila o zaštiti osobnih podataka.",
    },
    Sample {
        language: "en",
        label: "English",
        text: "The strategic analysis for the past year shows that organised crime groups in the Western Balkans increasingly use maritime routes through the ports of Bar, Durrës and Ploče to smuggle cocaine. Shipments are often hidden in containers of tropical fruit.\n\
Investigators observe that proceeds are laundered through construction companies, currency exchange offices and sham consultancy contracts. Cooperation with EUROPOL and the national financial intelligence units is essential.\n\
It is recommended that analysis units exchange data every month on seizures, vessel names and suspicious bank accounts, in line with the rules on the protection of personal data.",
    },
];

impl Sample {
    /// Serbian in both scripts on one page, read with both packs at once: a short Latin word is
    /// now and then read as its Cyrillic twin (`da` as `да`, `sa` as `за`) — which search folds,
    /// as it folds the scripts — so it is measured apart from the single-script pages.
    pub fn mixes_scripts(&self) -> bool {
        self.language == "sr"
    }
}

/// How a page is damaged: one way at a time, the four of a poor office scan together, and the
/// other usual ways scans go wrong.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Degradation {
    /// Rendered at 300 dpi, lossless.
    Clean,
    /// Turned 1.5° clockwise.
    Rotated,
    /// Scaled to half (150 dpi from a 300-dpi page).
    HalfResolution,
    /// Salt-and-pepper speckles on 0.5% of the pixels.
    Speckled,
    /// JPEG at quality 40.
    Jpeg40,
    /// All four above, in the order a scanner and its software apply them.
    PoorScan,
    /// Rendered at 150 dpi.
    Dpi150,
    /// Grey ink on grey paper with sensor noise, JPEG at quality 60.
    LowContrast,
    /// About 200 dpi, noisy strokes cut by a hard threshold to black and white, a few specks.
    Fax,
    /// The poor scan as the only content of a PDF page (a scanner's "scan to PDF").
    ScannedPdf,
}

impl Degradation {
    pub const ALL: [Degradation; 10] = [
        Self::Clean,
        Self::Rotated,
        Self::HalfResolution,
        Self::Speckled,
        Self::Jpeg40,
        Self::PoorScan,
        Self::Dpi150,
        Self::LowContrast,
        Self::Fax,
        Self::ScannedPdf,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Self::Clean => "clean 300 dpi",
            Self::Rotated => "rotated 1.5°",
            Self::HalfResolution => "half resolution",
            Self::Speckled => "speckles 0.5%",
            Self::Jpeg40 => "JPEG q40",
            Self::PoorScan => "poor scan (all four)",
            Self::Dpi150 => "150 dpi",
            Self::LowContrast => "low contrast",
            Self::Fax => "fax",
            Self::ScannedPdf => "poor scan in a PDF",
        }
    }

    /// File name extension and media type of the encoded page.
    pub fn file_type(self) -> (&'static str, &'static str) {
        match self {
            Self::Jpeg40 | Self::PoorScan | Self::LowContrast => ("jpg", "image/jpeg"),
            Self::Fax => ("tif", "image/tiff"),
            Self::ScannedPdf => ("pdf", "application/pdf"),
            _ => ("png", "image/png"),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum CorpusError {
    #[error("the font {FONT_PATH} (Debian: fonts-dejavu-core): {0}")]
    Font(String),
    #[error("encoding a page: {0}")]
    Encode(#[from] image::ImageError),
}

/// Draws the corpus's pages.
pub struct Corpus {
    font: FontArc,
}

impl Corpus {
    pub fn load() -> Result<Self, CorpusError> {
        Self::with_font(Path::new(FONT_PATH))
    }

    pub fn with_font(path: &Path) -> Result<Self, CorpusError> {
        let bytes = std::fs::read(path).map_err(|e| CorpusError::Font(e.to_string()))?;
        Ok(Self { font: FontArc::try_from_vec(bytes).map_err(|e| CorpusError::Font(e.to_string()))? })
    }

    /// The encoded page of `text` damaged as `how` (`seed`: where the noise falls).
    pub fn page(&self, text: &str, how: Degradation, seed: u64) -> Result<Vec<u8>, CorpusError> {
        let page = |scale| self.render(text, scale, 0, 255);
        Ok(match how {
            Degradation::Clean => encode(&page(1.0), ImageFormat::Png)?,
            Degradation::Rotated => encode(&rotate(&page(1.0), 1.5), ImageFormat::Png)?,
            Degradation::HalfResolution => encode(&half(&page(1.0)), ImageFormat::Png)?,
            Degradation::Speckled => {
                let mut speckled = page(1.0);
                salt_and_pepper_noise_mut(&mut speckled, 0.005, seed);
                encode(&speckled, ImageFormat::Png)?
            }
            Degradation::Jpeg40 => jpeg(&page(1.0), 40)?,
            Degradation::PoorScan => jpeg(&poor_scan(page(1.0), seed), 40)?,
            Degradation::Dpi150 => encode(&page(0.5), ImageFormat::Png)?,
            Degradation::LowContrast => {
                let mut grey = self.render(text, 1.0, 120, 175);
                gaussian_noise_mut(&mut grey, 0.0, 6.0, seed);
                jpeg(&grey, 60)?
            }
            Degradation::Fax => {
                let full = page(1.0);
                let (width, height) = (full.width() * 2 / 3, full.height() * 2 / 3);
                let mut fax = image::imageops::resize(&full, width, height, FilterType::Triangle);
                gaussian_noise_mut(&mut fax, 0.0, 40.0, seed);
                let mut fax = threshold(&fax, 150, ThresholdType::Binary);
                salt_and_pepper_noise_mut(&mut fax, 0.001, seed.wrapping_add(1));
                encode(&fax, ImageFormat::Tiff)?
            }
            Degradation::ScannedPdf => {
                let scan = poor_scan(page(1.0), seed);
                image_only_pdf(&jpeg(&scan, 40)?, scan.width(), scan.height(), 150)
            }
        })
    }

    /// `text` laid out in paragraphs on a page `scale` times 300 dpi, `ink` on `paper`.
    pub fn render(&self, text: &str, scale: f32, ink: u8, paper: u8) -> GrayImage {
        let px = PxScale::from(FONT_PX * scale);
        let font = self.font.as_scaled(px);
        let width = (PAGE_WIDTH as f32 * scale) as u32;
        let margin = (MARGIN as f32 * scale) as u32;
        let usable = (width - 2 * margin) as f32;
        let advance = |line: &str| -> f32 { line.chars().map(|c| font.h_advance(font.glyph_id(c))).sum() };
        let mut lines: Vec<String> = Vec::new();
        for paragraph in text.split('\n') {
            let mut line = String::new();
            for word in paragraph.split_whitespace() {
                let longer = if line.is_empty() { word.to_owned() } else { format!("{line} {word}") };
                if advance(&longer) > usable && !line.is_empty() {
                    lines.push(std::mem::replace(&mut line, word.to_owned()));
                } else {
                    line = longer;
                }
            }
            lines.push(line);
            lines.push(String::new());
        }
        let line_height = (px.y * 1.5).round() as u32;
        let mut page = GrayImage::from_pixel(width, 2 * margin + line_height * lines.len() as u32, Luma([paper]));
        for (i, line) in lines.iter().enumerate() {
            let y = margin + i as u32 * line_height;
            imageproc::drawing::draw_text_mut(&mut page, Luma([ink]), margin as i32, y as i32, px, &self.font, line);
        }
        page
    }
}

fn rotate(page: &GrayImage, degrees: f32) -> GrayImage {
    rotate_about_center(page, degrees.to_radians(), Interpolation::Bilinear, Border::Constant(Luma([255])))
}

fn half(page: &GrayImage) -> GrayImage {
    image::imageops::resize(page, page.width() / 2, page.height() / 2, FilterType::Triangle)
}

/// Turned, halved and speckled (the JPEG compression is the caller's).
fn poor_scan(page: GrayImage, seed: u64) -> GrayImage {
    let mut scan = half(&rotate(&page, 1.5));
    salt_and_pepper_noise_mut(&mut scan, 0.005, seed);
    scan
}

fn encode(page: &GrayImage, format: ImageFormat) -> Result<Vec<u8>, CorpusError> {
    let mut out = std::io::Cursor::new(Vec::new());
    page.write_to(&mut out, format)?;
    Ok(out.into_inner())
}

fn jpeg(page: &GrayImage, quality: u8) -> Result<Vec<u8>, CorpusError> {
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, quality).encode_image(page)?;
    Ok(out)
}

/// A one-page PDF showing a greyscale JPEG of `width`×`height` pixels at `dpi`, and nothing else.
pub fn image_only_pdf(jpeg: &[u8], width: u32, height: u32, dpi: u32) -> Vec<u8> {
    let (width_pt, height_pt) = (width * 72 / dpi, height * 72 / dpi);
    let content = format!("q {width_pt} 0 0 {height_pt} 0 0 cm /Im0 Do Q");
    let mut image = format!(
        "<< /Type /XObject /Subtype /Image /Width {width} /Height {height} /ColorSpace /DeviceGray \
         /BitsPerComponent 8 /Filter /DCTDecode /Length {} >>\nstream\n",
        jpeg.len()
    )
    .into_bytes();
    image.extend_from_slice(jpeg);
    image.extend_from_slice(b"\nendstream");
    let objects: [Vec<u8>; 5] = [
        b"<< /Type /Catalog /Pages 2 0 R >>".to_vec(),
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_vec(),
        format!(
            "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 {width_pt} {height_pt}] \
             /Resources << /XObject << /Im0 4 0 R >> >> /Contents 5 0 R >>"
        )
        .into_bytes(),
        image,
        format!("<< /Length {} >>\nstream\n{content}\nendstream", content.len()).into_bytes(),
    ];
    pdf_file(&objects)
}

/// A PDF file of `objects` (numbered from 1; the first is the catalog) with its cross-reference
/// table: what a writer adds around the objects it drew.
pub fn pdf_file(objects: &[Vec<u8>]) -> Vec<u8> {
    let mut pdf = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n".to_vec();
    let mut offsets = Vec::with_capacity(objects.len());
    for (number, body) in objects.iter().enumerate() {
        offsets.push(pdf.len());
        pdf.extend_from_slice(format!("{} 0 obj\n", number + 1).as_bytes());
        pdf.extend_from_slice(body);
        pdf.extend_from_slice(b"\nendobj\n");
    }
    let xref = pdf.len();
    pdf.extend_from_slice(format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1).as_bytes());
    for offset in offsets {
        pdf.extend_from_slice(format!("{offset:010} 00000 n \n").as_bytes());
    }
    pdf.extend_from_slice(
        format!("trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n", objects.len() + 1).as_bytes(),
    );
    pdf
}

/// Character error rate of `read` against `truth`: edits (insertions, deletions, substitutions
/// of characters, by Levenshtein distance) per character of the truth, after both are put in
/// Unicode NFC and every run of white space — line breaks included — is one space.
pub fn character_error_rate(truth: &str, read: &str) -> f64 {
    use unicode_normalization::UnicodeNormalization;
    let normal = |text: &str| -> Vec<char> {
        let composed: String = text.nfc().collect();
        composed.split_whitespace().collect::<Vec<_>>().join(" ").chars().collect()
    };
    let (truth, read) = (normal(truth), normal(read));
    strsim::generic_levenshtein(&truth, &read) as f64 / truth.len().max(1) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_error_rate_counts_edits_per_character_and_ignores_line_breaks() {
        assert_eq!(character_error_rate("Ploče i Rijeka", "Ploče\ni  Rijeka\n"), 0.0);
        assert!((character_error_rate("abcdefghij", "abcdefghiX") - 0.1).abs() < 1e-9);
        assert!((character_error_rate("abcdefghij", "abcdefghijkl") - 0.2).abs() < 1e-9);
        // Composed and decomposed č are the same letter.
        assert_eq!(character_error_rate("č", "c\u{30c}"), 0.0);
    }

    #[test]
    fn pages_are_the_same_for_the_same_seed() {
        let corpus = Corpus::load().expect("DejaVu Sans");
        for how in [Degradation::PoorScan, Degradation::Fax] {
            let once = corpus.page(SAMPLES[2].text, how, 7).expect("page");
            assert_eq!(once, corpus.page(SAMPLES[2].text, how, 7).expect("page"), "{how:?}");
            assert_ne!(once, corpus.page(SAMPLES[2].text, how, 8).expect("page"), "{how:?}");
        }
    }
}
